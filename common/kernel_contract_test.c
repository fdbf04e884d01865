/*  kernel_contract_test — the selftest of kernel_contract: the table's own
    rules, settings -> argv -> parse -> the same settings for both roles
    (at the defaults, and with every row off its default), malformed
    command lines, the fingerprint and the usage.
*/
#include "kernel_contract_internal.h"
#include "selftest.h"

#include <stdlib.h>
#include <string.h>

#define S_ROW(i)    (&kernel_contract_rows [i])
#define S_MIB       (1024ull * 1024)

static const void *
s_field (const kernel_settings_t *settings, const kernel_contract_row_t *row)
{
    return (const char *) settings + row->offset;
}

static bool
s_row_equal (const kernel_contract_row_t *row, const kernel_settings_t *a,
             const kernel_settings_t *b)
{
    if (row->kind == KERNEL_CONTRACT_STRING) {
        const char *x = *(const char *const *) s_field (a, row);
        const char *y = *(const char *const *) s_field (b, row);
        return x == y || (x && y && strcmp (x, y) == 0);
    }
    if (row->kind == KERNEL_CONTRACT_FLAG)
        return *(const bool *) s_field (a, row) == *(const bool *) s_field (b, row);
    return *(const uint64_t *) s_field (a, row) == *(const uint64_t *) s_field (b, row);
}

static bool
s_equal (const kernel_settings_t *a, const kernel_settings_t *b)
{
    for (size_t i = 0; i < kernel_contract_row_count; i++)
        if (!s_row_equal (S_ROW (i), a, b)) {
            fprintf (stderr, "\nkernel_contract: --%s differs\n", S_ROW (i)->name);
            return false;
        }
    return true;
}

//  The table's rules: what the argv's order, the parser and the
//  fingerprint rely on.
static void
s_test_table (void)
{
    size_t bytes = 0;
    for (size_t i = 0; i < kernel_contract_row_count; i++) {
        const kernel_contract_row_t *row = S_ROW (i);
        bool is_number = row->kind == KERNEL_CONTRACT_UINT
                      || row->kind == KERNEL_CONTRACT_SIZE;
        SELFTEST_CHECK (row->name && *row->name && row->help && *row->help);
        SELFTEST_CHECK (row->roles && (row->required & ~row->roles) == 0);
        SELFTEST_CHECK (is_number == (row->dflt != NULL));
        SELFTEST_CHECK (row->kind == KERNEL_CONTRACT_FLAG || row->value_name);
        //  The zygote compares every sandbox value, so it must be given each
        SELFTEST_CHECK (!row->sandbox || row->roles == (KERNEL_CONTRACT_SESSION
                                                        | KERNEL_CONTRACT_ZYGOTE));
        for (size_t j = 0; j < i; j++)
            SELFTEST_CHECK (S_ROW (j)->offset != row->offset
                         && strcmp (S_ROW (j)->name, row->name) != 0);
        bytes += row->kind == KERNEL_CONTRACT_STRING? sizeof (char *)
               : row->kind == KERNEL_CONTRACT_FLAG? sizeof (bool): sizeof (uint64_t);
    }
    //  A field without a row would make the struct larger than its rows
    size_t align = _Alignof (kernel_settings_t);
    SELFTEST_CHECK (sizeof (kernel_settings_t) == (bytes + align - 1) / align * align);
    //  The zygote role's argv starts with --zygote: rows before it are the
    //  session's only
    for (size_t i = 0; i < kernel_contract_row_count; i++) {
        if (S_ROW (i)->offset == offsetof (kernel_settings_t, zygote))
            break;
        SELFTEST_CHECK (!(S_ROW (i)->roles & KERNEL_CONTRACT_ZYGOTE));
    }
}

//  A session kernel's settings with every row of its role off the default.
static void
s_session_settings (kernel_settings_t *settings)
{
    kernel_contract_defaults (settings);
    settings->endpoint = "ipc:///tmp/kmq-test/backend";
    settings->session = "nb-1.a:b";
    settings->kernel_id = "k7-0000beef";
    settings->work_dir = "/tmp/kmq-test/k7";
    settings->state_lost = "the previous kernel died (signal 9); --its state was lost";
    settings->zygote = "/tmp/kmq-test/zygote.sock";
    settings->host = "h1";
    settings->state_dir = "/tmp/kmq-test/state";
    settings->snapshot_quota = 16 * S_MIB;
    settings->snapshot_ttl_s = 3600;
    settings->snapshot = true;
    settings->restore = true;
    settings->broker_grace_ms = 120000;
    settings->heartbeat_ivl_ms = 250;
    settings->heartbeat_idle_ivl_ms = 4000;
    settings->heartbeat_liveness = 5;
    settings->request_timeout_ms = 300000;
    settings->request_cpu_s = 60;
    settings->kill_grace_ms = 500;
    settings->max_output = 8 * S_MIB;
    settings->memory_limit = 1024 * S_MIB;
    settings->cpu_limit_s = 3600;
    settings->max_payload = 1 * S_MIB;
    settings->work_quota = 64 * S_MIB;
    settings->tmp_quota = 32 * S_MIB;
    settings->max_threads = 64;
    settings->max_files = 512;
    settings->executor_uid_base = 3000000000u;
    settings->executor_uid_count = 65536;
    settings->cgroup = "/sys/fs/cgroup/memory/kmq/h1.1.2/k7-0000beef";
    settings->verbose = true;
}

//  The zygote's, likewise, with the same sandbox values.
static void
s_zygote_settings (kernel_settings_t *settings)
{
    kernel_settings_t session;
    s_session_settings (&session);
    kernel_contract_defaults (settings);
    settings->zygote = session.zygote;
    settings->pool_size = 2;
    settings->cgroup_spares = "/sys/fs/cgroup/memory/kmq/h1.1.2:/sys/fs/cgroup/pids/kmq/h1.1.2";
    for (size_t i = 0; i < kernel_contract_row_count; i++)
        if (S_ROW (i)->sandbox) {
            SELFTEST_CHECK (S_ROW (i)->dflt);       //  a number
            memcpy ((char *) settings + S_ROW (i)->offset,
                    (char *) &session + S_ROW (i)->offset, sizeof (uint64_t));
        }
    settings->verbose = true;
}

//  Every row of role differs from its default in settings.
static void
s_check_all_changed (const kernel_settings_t *settings, kernel_contract_role_t role)
{
    kernel_settings_t defaults;
    kernel_contract_defaults (&defaults);
    for (size_t i = 0; i < kernel_contract_row_count; i++)
        if ((S_ROW (i)->roles & role) && s_row_equal (S_ROW (i), settings, &defaults)) {
            fprintf (stderr, "\nkernel_contract_test: give --%s a value other than "
                     "its default in s_%s_settings\n", S_ROW (i)->name,
                     role == KERNEL_CONTRACT_ZYGOTE? "zygote": "session");
            SELFTEST_CHECK (false);
        }
}

//  settings -> argv -> parse gives settings back; returns the argv.
static char **
s_round_trip (const kernel_settings_t *settings, bool verbose)
{
    int argc;
    char **argv = kernel_contract_argv ("/usr/bin/kmq-kernel", settings, &argc);
    SELFTEST_CHECK (strcmp (argv [0], "/usr/bin/kmq-kernel") == 0);
    if (verbose) {
        for (char **arg = argv; *arg; arg++)
            printf ("%s%s", arg == argv? "\n   ": " ", *arg);
        printf ("\n");
    }
    kernel_settings_t parsed;
    char err [256] = "";
    int rc = kernel_contract_parse (&parsed, argc, argv, err, sizeof err);
    if (rc)
        fprintf (stderr, "\nkernel_contract_test: %s\n", err);
    SELFTEST_CHECK (rc == 0);
    SELFTEST_CHECK (s_equal (&parsed, settings));
    SELFTEST_CHECK (kernel_contract_role (&parsed) == kernel_contract_role (settings));
    return argv;
}

static bool
s_argv_has (char **argv, const char *arg)
{
    for (; *argv; argv++)
        if (strcmp (*argv, arg) == 0)
            return true;
    return false;
}

static void
s_test_round_trips (bool verbose)
{
    //  Defaults, with what each role requires
    kernel_settings_t settings;
    kernel_contract_defaults (&settings);
    settings.endpoint = "tcp://127.0.0.1:5556";
    settings.session = "s";
    settings.kernel_id = "k";
    settings.work_dir = "/w";
    char **argv = s_round_trip (&settings, verbose);
    SELFTEST_CHECK (!s_argv_has (argv, "--verbose") && !s_argv_has (argv, "--zygote")
                 && !s_argv_has (argv, "--state-lost") && !s_argv_has (argv, "--pool"));
    kernel_contract_argv_destroy (&argv);
    kernel_contract_defaults (&settings);
    settings.zygote = "/z.sock";
    argv = s_round_trip (&settings, verbose);
    SELFTEST_CHECK (strcmp (argv [1], "--zygote") == 0 && strcmp (argv [2], "/z.sock") == 0);
    kernel_contract_argv_destroy (&argv);
    kernel_contract_argv_destroy (&argv);
    SELFTEST_CHECK (argv == NULL);

    //  Every row off its default
    s_session_settings (&settings);
    s_check_all_changed (&settings, KERNEL_CONTRACT_SESSION);
    SELFTEST_CHECK (kernel_contract_role (&settings) == KERNEL_CONTRACT_SESSION);
    argv = s_round_trip (&settings, verbose);
    SELFTEST_CHECK (strcmp (argv [1], "--zygote") != 0);
    kernel_contract_argv_destroy (&argv);
    s_zygote_settings (&settings);
    s_check_all_changed (&settings, KERNEL_CONTRACT_ZYGOTE);
    SELFTEST_CHECK (kernel_contract_role (&settings) == KERNEL_CONTRACT_ZYGOTE);
    argv = s_round_trip (&settings, verbose);
    SELFTEST_CHECK (strcmp (argv [1], "--zygote") == 0);
    kernel_contract_argv_destroy (&argv);

    //  The other role's settings are left out of the argv
    settings.endpoint = "ipc:///e";
    settings.heartbeat_ivl_ms = 7;
    argv = kernel_contract_argv ("kmq-kernel", &settings, NULL);
    SELFTEST_CHECK (!s_argv_has (argv, "--endpoint") && !s_argv_has (argv, "--heartbeat-ivl-ms"));
    kernel_contract_argv_destroy (&argv);
}

static void
s_test_fingerprint (void)
{
    kernel_settings_t session, zygote, changed;
    s_session_settings (&session);
    s_zygote_settings (&zygote);
    char one [512], two [512];
    size_t len = kernel_contract_fingerprint (&session, one, sizeof one);
    SELFTEST_CHECK (len == strlen (one) && len < sizeof one);
    kernel_contract_fingerprint (&zygote, two, sizeof two);
    SELFTEST_CHECK (strcmp (one, two) == 0);
    SELFTEST_CHECK (strncmp (one, "memory-limit=1073741824,cpu-limit-s=3600,", 41) == 0);
    for (size_t i = 0; i < kernel_contract_row_count; i++) {
        const kernel_contract_row_t *row = S_ROW (i);
        changed = session;
        char *field = (char *) &changed + row->offset;
        if (row->kind == KERNEL_CONTRACT_STRING)
            *(const char **) field = "/other";
        else
        if (row->kind == KERNEL_CONTRACT_FLAG)
            *(bool *) field = !*(bool *) field;
        else
            *(uint64_t *) field += 1;
        kernel_contract_fingerprint (&changed, two, sizeof two);
        SELFTEST_CHECK (row->sandbox == (strcmp (one, two) != 0));
        char name [64];
        snprintf (name, sizeof name, "%s=", row->name);
        SELFTEST_CHECK (row->sandbox == (strstr (one, name) != NULL));
    }
    //  The largest values leave room in KERNEL_CONTRACT_FINGERPRINT_MAX
    changed = session;
    for (size_t i = 0; i < kernel_contract_row_count; i++)
        if (S_ROW (i)->sandbox)
            *(uint64_t *) ((char *) &changed + S_ROW (i)->offset) = UINT64_MAX;
    SELFTEST_CHECK (kernel_contract_fingerprint (&changed, NULL, 0) + 32
                    < KERNEL_CONTRACT_FINGERPRINT_MAX);
    //  Cut short, still terminated, and the full length is told
    SELFTEST_CHECK (kernel_contract_fingerprint (&session, two, 10) == len);
    SELFTEST_CHECK (strlen (two) == 9);
}

typedef struct {
    bool base;                  //  prefix the session's required flags
    const char *args [6];
    const char *expect;         //  in the error
} s_bad_case_t;

static void
s_test_malformed (bool verbose)
{
    static const s_bad_case_t cases [] = {
        { true, { "--max-files", "x" }, "--max-files: 'x' is not a non-negative integer" },
        { true, { "--max-files", "-1" }, "is not a non-negative integer" },
        { true, { "--max-files", "1K" }, "is not a non-negative integer" },
        { true, { "--memory-limit", "2X" }, "--memory-limit: '2X' is not a size" },
        { true, { "--memory-limit", "2KB" }, "is not a size" },
        { true, { "--memory-limit", "99999999999999999999" }, "is too large" },
        { true, { "--memory-limit", "17179869184G" }, "is too large" },
        { true, { "--heartbeat-ivl-ms", "0" }, "0 is out of range 1..3600000" },
        { true, { "--request-timeout-ms", "1099511627777" }, "out of range" },
        { false, { "--zygote", "/z", "--pool", "65" }, "--pool: 65 is out of range 0..64" },
        { true, { "--frobnicate", "1" }, "unknown flag '--frobnicate'" },
        { true, { "-x" }, "unknown flag '-x'" },
        { true, { "stray" }, "unexpected argument 'stray'" },
        { true, { "--max-files" }, "--max-files needs a value (N)" },
        { true, { "--verbose=yes" }, "--verbose takes no value" },
        { true, { "--max-files", "1", "--max-files=2" }, "--max-files is given twice" },
        { true, { "--session", "s" }, "--session is given twice" },
        { false, { "--endpoint", "e", "--kernel-id", "k", "--work-dir", "/w" },
          "--session is required" },
        { false, { "--session", "s", "--kernel-id", "k", "--work-dir", "/w" },
          "--endpoint is required" },
        { false, { "--endpoint", "e", "--session", "bad key!" }, "is not a session key" },
        { false, { "--work-dir", "w" }, "--work-dir: 'w' is not an absolute path" },
        { false, { "--kernel-id", "" }, "--kernel-id: must be 1-255 bytes" },
        { false, { "--zygote", "z.sock" }, "--zygote: 'z.sock' is not an absolute path" },
        { false, { "--zygote", "/z", "--endpoint", "e" },
          "--endpoint is a session kernel's flag" },
        { true, { "--pool", "2" }, "--pool is the zygote's flag" },
        { false, { NULL }, "--endpoint is required" },
    };
    const char *base [] = { "--endpoint", "e", "--session", "s", "--kernel-id", "k",
                            "--work-dir", "/w" };
    for (size_t c = 0; c < sizeof cases / sizeof cases [0]; c++) {
        char *argv [16] = { "kmq-kernel" };
        int argc = 1;
        for (size_t i = 0; cases [c].base && i < sizeof base / sizeof base [0]; i++)
            argv [argc++] = (char *) base [i];
        for (size_t i = 0; i < 6 && cases [c].args [i]; i++)
            argv [argc++] = (char *) cases [c].args [i];
        kernel_settings_t settings;
        char err [256] = "";
        int rc = kernel_contract_parse (&settings, argc, argv, err, sizeof err);
        if (verbose)
            printf ("\n    %s", err);
        if (rc != -1 || !strstr (err, cases [c].expect))
            fprintf (stderr, "\nkernel_contract_test: case %zu: rc %d, '%s', want '%s'\n",
                     c, rc, err, cases [c].expect);
        SELFTEST_CHECK (rc == -1 && strstr (err, cases [c].expect));
    }
}

static void
s_test_forms (void)
{
    //  --flag=value, sizes with suffixes, -v, help before anything is checked
    char *argv [] = { "kmq-kernel", "--zygote=/z", "--memory-limit", "3g",
                      "--work-quota=512K", "--max-payload", "0", "-v" };
    kernel_settings_t settings;
    char err [256] = "";
    SELFTEST_CHECK (kernel_contract_parse (&settings, 8, argv, err, sizeof err) == 0);
    SELFTEST_CHECK (strcmp (settings.zygote, "/z") == 0);
    SELFTEST_CHECK (settings.memory_limit == 3ull << 30);
    SELFTEST_CHECK (settings.work_quota == 512ull << 10);
    SELFTEST_CHECK (settings.max_payload == 0 && settings.verbose);
    SELFTEST_CHECK (settings.max_files == 1024);
    char *help [] = { "kmq-kernel", "--help", "--frobnicate" };
    SELFTEST_CHECK (kernel_contract_parse (&settings, 3, help, err, sizeof err) == 1);
    char *help_late [] = { "kmq-kernel", "--frobnicate", "-h" };
    SELFTEST_CHECK (kernel_contract_parse (&settings, 3, help_late, err, sizeof err) == -1);
    //  A value that looks like a flag is still the value
    char *dash [] = { "kmq-kernel", "--endpoint", "e", "--session", "s", "--kernel-id",
                      "k", "--work-dir", "/w", "--state-lost", "--help" };
    SELFTEST_CHECK (kernel_contract_parse (&settings, 11, dash, err, sizeof err) == 0);
    SELFTEST_CHECK (strcmp (settings.state_lost, "--help") == 0);
}

void
kernel_contract_test (bool verbose)
{
    kernel_settings_t settings;
    kernel_contract_defaults (&settings);
    SELFTEST_CHECK (settings.memory_limit == 2048 * S_MIB);
    SELFTEST_CHECK (settings.max_payload == 256 * S_MIB);
    SELFTEST_CHECK (settings.work_quota == 256 * S_MIB && settings.tmp_quota == 256 * S_MIB);
    SELFTEST_CHECK (settings.heartbeat_ivl_ms == 1000 && settings.heartbeat_liveness == 3);
    SELFTEST_CHECK (settings.max_threads == 256 && settings.max_files == 1024);
    SELFTEST_CHECK (!settings.session && !settings.zygote && !settings.verbose);
    SELFTEST_CHECK (kernel_contract_role (&settings) == KERNEL_CONTRACT_SESSION);

    SELFTEST_CHECK (strcmp (kernel_contract_layer_name (0), "namespaces") == 0);
    SELFTEST_CHECK (strcmp (kernel_contract_layer_name (KERNEL_CONTRACT_LAYERS - 1),
                            "cgroup") == 0);
    SELFTEST_CHECK (kernel_contract_layer_name (KERNEL_CONTRACT_LAYERS) == NULL);

    s_test_table ();
    s_test_round_trips (verbose);
    s_test_fingerprint ();
    s_test_malformed (verbose);
    s_test_forms ();

    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    SELFTEST_CHECK (out);
    kernel_contract_usage (out);
    fclose (out);
    SELFTEST_CHECK (strstr (text, "usage: kmq-kernel --endpoint URL --session KEY"));
    SELFTEST_CHECK (strstr (text, "\n       kmq-kernel --zygote SOCKET [--pool N]"));
    for (size_t i = 0; i < kernel_contract_row_count; i++) {
        char flag [64];
        snprintf (flag, sizeof flag, "--%s", S_ROW (i)->name);
        SELFTEST_CHECK (strstr (text, flag));
    }
    if (verbose)
        printf ("\n%s", text);
    free (text);
}
