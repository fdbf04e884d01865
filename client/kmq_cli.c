/*  kmq — the kernelmq command-line client, on libkmq.

    Exit status: 0 ok, 1 the Python code raised (PYTHON_ERROR), 2 usage
    error, 3 service error (broker unreachable, kernel died, timeout, ...).
    On failure stderr gets one line that says what happened; on success
    stderr holds only the code's own stderr, the notes "session state was
    lost" and "output truncated", and one "kmq: saved MIME to PATH" line
    per --save-display file. complete and inspect exit 1 when nothing is
    found. This file parses arguments and runs the commands; printing is
    in kmq_cli_util.c, the repl in kmq_cli_repl.c. convert is the one
    command that needs no broker.                                          */
#include <langinfo.h>
#include <locale.h>
#include <unistd.h>
#include "frame.h"
#include "kmq_cli.h"
#include "keys.h"
#include "mem.h"
#include <ctype.h>

#define DEFAULT_ENDPOINT "tcp://127.0.0.1:5555"

volatile sig_atomic_t cli_interrupted = 0;

static const char *s_usage =
"usage:\n"
"  kmq [-e ENDPOINT] exec -s SESSION [--timeout SEC] [--save-display DIR] [--time]\n"
"                        [CODE | -f FILE | -]\n"
"  kmq [-e ENDPOINT] upload -s SESSION NAME FILE [--format csv|json|frame|file]\n"
"  kmq [-e ENDPOINT] download -s SESSION NAME [--format csv|json|frame|file]\n"
"                            [-o OUT]\n"
"  kmq convert FILE.kmqf [--to csv|json] [-o OUT]\n"
"  kmq [-e ENDPOINT] reset|vars|close|interrupt|attach -s SESSION\n"
"  kmq [-e ENDPOINT] stats [--json]\n"
"  kmq [-e ENDPOINT] shutdown [--sessions]\n"
"  kmq [-e ENDPOINT] share -s SESSION --with KEY|FILE [--revoke]\n"
"  kmq keys [allow [--host|--gateway] KEY|FILE [NAME]]\n"
"  kmq [-e ENDPOINT] complete|inspect -s SESSION CODE [--cursor N]\n"
"  kmq [-e ENDPOINT] repl -s SESSION [--save-display DIR]\n"
"  kmq --help\n"
"\n"
"ENDPOINT defaults to $KMQ_ENDPOINT, then " DEFAULT_ENDPOINT ".\n"
"Other clients of a shared session see you as $KMQ_CLIENT (else $USER).\n"
"attach prints a shared session's whole conversation as it happens:\n"
"In [n] (client): its code, its output, Out[n]: or its error.\n"
"exec runs CODE (or FILE, or stdin with -) in SESSION and prints its output\n"
"as it comes, the text/plain of each display() and of the result.\n"
"--save-display DIR also writes each rich output (a display's or the\n"
"result's HTML, PNG, JSON, Markdown, ...) to DIR/out-<cell>-<n>.<ext>,\n"
"<cell> the cell's execution_count, n counting from 1 within the cell\n"
"(.json for application/json and plotly figures), and says so on stderr,\n"
"one line per file: \"kmq: saved image/png to DIR/out-3-1.png\".\n"
"complete prints the candidates for the text before the cursor (a byte\n"
"offset, default the end), one per line; inspect prints the signature and\n"
"docstring of the object there. Both exit 1 when nothing is found.\n"
"upload's format defaults to the FILE's extension (.csv, .json, .kmqf),\n"
"else csv; download's to csv, writing to stdout without -o.\n"
"frame is the binary columnar DataFrame format (protocol.md section 11):\n"
"download --format frame -o x.kmqf saves one, upload sends one, and\n"
"convert writes it as CSV or JSON records (--to; default from OUT's\n"
"extension, else csv) to OUT or stdout, checking it as a kernel would.\n"
"shutdown stops the broker; its sessions stay with their kernel hosts for\n"
"the next broker, unless --sessions, which ends them and the hosts too.\n"
"share lets another client key use SESSION (only its owner, the key that\n"
"created it, may); --revoke takes that back. Others get FORBIDDEN.\n"
"keys prints where the keys live ($KMQ_CONFIG_DIR, else ~/.config/kernelmq)\n"
"and your client key (made if missing), which the broker's owner allows;\n"
"keys allow puts a public key (or a copy of a .key file) on the broker's\n"
"allowlist there: clients/, or hosts/ (--host), or gateways/ (--gateway).\n"
"Exit status: 0 ok, 1 Python raised, 2 usage error, 3 service error.\n";

//  --- arguments ----------------------------------------------------------

enum {
    OPT_SESSION = 1 << 0, OPT_TIMEOUT = 1 << 1, OPT_FILE = 1 << 2,
    OPT_FORMAT = 1 << 3, OPT_OUTPUT = 1 << 4, OPT_JSON = 1 << 5,
    OPT_SAVE = 1 << 6, OPT_CURSOR = 1 << 7, OPT_TO = 1 << 8, OPT_TIME = 1 << 9,
    OPT_SESSIONS = 1 << 10, OPT_WITH = 1 << 11, OPT_REVOKE = 1 << 12,
    OPT_HOST = 1 << 13, OPT_GATEWAY = 1 << 14
};

typedef struct {
    const char *endpoint;
    const char *session;
    const char *timeout;
    const char *file;
    const char *format;
    const char *output;
    const char *save_dir;
    const char *cursor;
    const char *to;                 //  convert: csv or json
    bool json;
    bool time;                      //  exec --time: say how long the cell ran
    bool sessions;                  //  shutdown --sessions: end them too
    const char *with;               //  share --with KEY
    bool revoke;                    //  share --revoke
    bool host, gateway;             //  keys allow --host / --gateway
    char *data;                     //  code or upload bytes, read before connecting
    size_t size;
    uint32_t timeout_ms;
    size_t cursor_pos;              //  complete, inspect: byte offset
    int npos;
    const char *pos [8];
} args_t;

typedef struct {
    const char *name;
    int options;                    //  OPT_ flags the command takes
    int min_pos, max_pos;           //  positional arguments
    int (*prepare) (args_t *args);  //  before connecting: 0 or exit status
    int (*run) (kmq_t *kmq, args_t *args);  //  NULL: prepare did it all,
                                            //  no broker needed
} command_t;

//  Parses argv [first..] into args, options anywhere. Exits on misuse.
static void
s_parse (args_t *args, const command_t *command, int argc, char **argv, int first)
{
    static const struct {
        const char *shortname, *longname;
        int flag;
    } table [] = {
        { "-s", "--session", OPT_SESSION }, { NULL, "--timeout", OPT_TIMEOUT },
        { "-f", "--file", OPT_FILE }, { NULL, "--format", OPT_FORMAT },
        { "-o", "--output", OPT_OUTPUT }, { NULL, "--json", OPT_JSON },
        { NULL, "--save-display", OPT_SAVE }, { NULL, "--cursor", OPT_CURSOR },
        { NULL, "--to", OPT_TO }, { NULL, "--time", OPT_TIME },
        { NULL, "--sessions", OPT_SESSIONS }, { NULL, "--with", OPT_WITH },
        { NULL, "--revoke", OPT_REVOKE }, { NULL, "--host", OPT_HOST },
        { NULL, "--gateway", OPT_GATEWAY },
    };
    bool options_done = false;
    for (int i = first; i < argc; i++) {
        const char *arg = argv [i];
        if (options_done || arg [0] != '-' || strcmp (arg, "-") == 0) {
            if (args->npos >= command->max_pos || args->npos >= 8)
                cli_usage_error ("%s: unexpected argument \"%s\"", command->name, arg);
            args->pos [args->npos++] = arg;
            continue;
        }
        if (strcmp (arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (strcmp (arg, "-h") == 0 || strcmp (arg, "--help") == 0) {
            fputs (s_usage, stdout);
            exit (0);
        }
        //  --name=value or --name value
        const char *value = NULL;
        size_t len = strlen (arg);
        const char *equals = strchr (arg, '=');
        if (equals && arg [1] == '-') {
            len = (size_t) (equals - arg);
            value = equals + 1;
        }
        int flag = 0;
        bool is_endpoint = false;
        if ((len == 2 && strncmp (arg, "-e", 2) == 0)
        ||  (len == 10 && strncmp (arg, "--endpoint", 10) == 0))
            is_endpoint = true;
        for (size_t t = 0; !is_endpoint && t < sizeof table / sizeof table [0]; t++) {
            if ((table [t].shortname && len == strlen (table [t].shortname)
                 && strncmp (arg, table [t].shortname, len) == 0)
            ||  (len == strlen (table [t].longname)
                 && strncmp (arg, table [t].longname, len) == 0))
                flag = table [t].flag;
        }
        if (!is_endpoint && !(flag & command->options))
            cli_usage_error ("%s: unknown option \"%.*s\"", command->name, (int) len, arg);
        if (flag == OPT_JSON || flag == OPT_TIME || flag == OPT_SESSIONS
        ||  flag == OPT_REVOKE || flag == OPT_HOST || flag == OPT_GATEWAY) {
            if (value)
                cli_usage_error ("%s: %.*s takes no value", command->name, (int) len, arg);
            args->json |= flag == OPT_JSON;
            args->time |= flag == OPT_TIME;
            args->sessions |= flag == OPT_SESSIONS;
            args->revoke |= flag == OPT_REVOKE;
            args->host |= flag == OPT_HOST;
            args->gateway |= flag == OPT_GATEWAY;
            continue;
        }
        if (!value) {
            if (i + 1 >= argc)
                cli_usage_error ("%s: option %s needs a value", command->name, arg);
            value = argv [++i];
        }
        if (is_endpoint)
            args->endpoint = value;
        else
        if (flag == OPT_SESSION)
            args->session = value;
        else
        if (flag == OPT_WITH)
            args->with = value;
        else
        if (flag == OPT_TIMEOUT)
            args->timeout = value;
        else
        if (flag == OPT_FILE)
            args->file = value;
        else
        if (flag == OPT_FORMAT)
            args->format = value;
        else
        if (flag == OPT_OUTPUT)
            args->output = value;
        else
        if (flag == OPT_SAVE)
            args->save_dir = value;
        else
        if (flag == OPT_CURSOR)
            args->cursor = value;
        else
        if (flag == OPT_TO)
            args->to = value;
    }
    if (args->npos < command->min_pos)
        cli_usage_error ("%s: missing arguments", command->name);
    if ((command->options & OPT_SESSION) && !args->session)
        cli_usage_error ("%s needs -s SESSION", command->name);
    if (args->session && !kmq_session_valid (args->session))
        cli_usage_error ("invalid session key \"%s\": use 1-128 characters of"
                       " A-Z a-z 0-9 . _ : -", args->session);
    if (args->format && strcmp (args->format, "csv") && strcmp (args->format, "json")
    &&  strcmp (args->format, "frame") && strcmp (args->format, "file"))
        cli_usage_error ("%s: unknown format \"%s\": use csv, json, frame or file",
                       command->name, args->format);
    if (args->to && strcmp (args->to, "csv") && strcmp (args->to, "json"))
        cli_usage_error ("%s: --to takes csv or json, not \"%s\"", command->name,
                         args->to);
}

//  --- commands -----------------------------------------------------------

static int
s_prepare_exec (args_t *args)
{
    const char *source = args->file;
    if (args->npos && args->file)
        cli_usage_error ("exec: give CODE, -f FILE or -, not two of them");
    if (!args->npos && !args->file)
        cli_usage_error ("exec needs CODE, -f FILE or - (stdin)");
    if (args->npos && strcmp (args->pos [0], "-") == 0)
        source = "-";
    if (args->timeout) {
        char *end;
        double seconds = strtod (args->timeout, &end);
        if (*end || !(seconds > 0) || seconds > 4000000)
            cli_usage_error ("exec: --timeout takes seconds > 0, not \"%s\"", args->timeout);
        args->timeout_ms = (uint32_t) (seconds * 1000 + 0.5);
        if (args->timeout_ms == 0)
            args->timeout_ms = 1;
    }
    if (args->save_dir && cli_prepare_save_dir (args->save_dir) != 0)
        return EXIT_USAGE;
    if (source) {
        args->data = cli_read_file (source, &args->size);
        if (!args->data) {
            fprintf (stderr, "kmq: cannot read %s: %s\n", source, strerror (errno));
            return EXIT_USAGE;
        }
    }
    else {
        args->data = mem_strdup (args->pos [0]);
        args->size = strlen (args->data);
    }
    return 0;
}

static int
s_cmd_exec (kmq_t *kmq, args_t *args)
{
    cli_output_t output;
    cli_output_init (&output, args->save_dir);
    kmq_set_event_handler (kmq, cli_on_event, &output);
    kmq_reply_t *reply = kmq_execute (kmq, args->session, args->data, args->size,
                                      args->timeout_ms);
    int status = cli_print_result (reply, "", &output);
    if (args->time && kmq_reply_has (reply, "duration_ms"))
        fprintf (stderr, "kmq: cell %" PRIu64 " ran in %" PRIu64 " ms\n",
                 kmq_reply_execution_count (reply), kmq_reply_uint (reply, "duration_ms", 0));
    kmq_reply_destroy (&reply);
    cli_output_destroy (&output);
    return status;
}

//  complete and inspect: CODE and a byte cursor into it.
static int
s_prepare_at_cursor (args_t *args)
{
    args->data = mem_strdup (args->pos [0]);
    args->size = strlen (args->data);
    args->cursor_pos = args->size;                 //  the end by default
    if (args->cursor) {
        char *end;
        errno = 0;
        unsigned long long cursor = strtoull (args->cursor, &end, 10);
        if (*end || !*args->cursor || errno || args->cursor [0] == '-'
        ||  cursor > args->size)
            cli_usage_error ("--cursor takes a byte offset from 0 to %zu, not \"%s\"",
                             args->size, args->cursor);
        args->cursor_pos = (size_t) cursor;
    }
    return 0;
}

static int
s_cmd_complete (kmq_t *kmq, args_t *args)
{
    kmq_reply_t *reply = kmq_complete (kmq, args->session, args->data, args->size,
                                       args->cursor_pos);
    int status = cli_report (reply);
    if (status == 0) {
        size_t count = kmq_reply_match_count (reply);
        for (size_t i = 0; i < count; i++) {
            const char *match = kmq_reply_match (reply, i);
            if (match)
                printf ("%s\n", match);
        }
        if (count == 0)
            status = 1;             //  like grep: nothing found
    }
    kmq_reply_destroy (&reply);
    return status;
}

static int
s_cmd_inspect (kmq_t *kmq, args_t *args)
{
    kmq_reply_t *reply = kmq_inspect (kmq, args->session, args->data, args->size,
                                      args->cursor_pos);
    int status = cli_report (reply);
    if (status == 0) {
        size_t size;
        const char *text = (const char *) kmq_reply_mime_find (reply, "text/plain", &size);
        if (kmq_reply_bool (reply, "found", false) && text) {
            fwrite (text, 1, size, stdout);
            if (size == 0 || text [size - 1] != '\n')
                fputc ('\n', stdout);
        }
        else {
            fprintf (stderr, "kmq: inspect: no object found at the cursor\n");
            status = 1;
        }
    }
    kmq_reply_destroy (&reply);
    return status;
}

//  "3 rows" / "1 row"
static const char *
s_plural (uint64_t count, const char *one)
{
    return count == 1? one: "s";
}

static int
s_prepare_upload (args_t *args)
{
    const char *path = args->pos [1];
    if (!args->format) {
        const char *dot = strrchr (path, '.');
        args->format = dot && strcasecmp (dot, ".json") == 0? "json"
                     : dot && strcasecmp (dot, ".kmqf") == 0? "frame": "csv";
    }
    args->data = cli_read_file (path, &args->size);
    if (!args->data) {
        fprintf (stderr, "kmq: cannot read %s: %s\n", path, strerror (errno));
        return EXIT_USAGE;
    }
    return 0;
}

static int
s_cmd_upload (kmq_t *kmq, args_t *args)
{
    const char *name = args->pos [0];
    size_t size = args->size;
    kmq_reply_t *reply = kmq_upload (kmq, args->session, name, args->format,
                                     args->data, size);
    int status = cli_report (reply);
    if (status == 0) {
        const char *kind = kmq_reply_str (reply, "kind");
        uint64_t bytes = kmq_reply_uint (reply, "bytes", size);
        if (kind && strcmp (kind, "dataframe") == 0) {
            uint64_t rows = kmq_reply_uint (reply, "rows", 0);
            uint64_t columns = kmq_reply_uint (reply, "columns", 0);
            printf ("%s: DataFrame, %" PRIu64 " row%s x %" PRIu64 " column%s"
                    " (%" PRIu64 " byte%s)\n", name, rows, s_plural (rows, ""),
                    columns, s_plural (columns, ""), bytes, s_plural (bytes, ""));
        }
        else
            printf ("%s: file (%" PRIu64 " byte%s)\n", name, bytes, s_plural (bytes, ""));
    }
    kmq_reply_destroy (&reply);
    return status;
}

//  download --format frame: binary, so never onto a terminal.
static int
s_prepare_download (args_t *args)
{
    if (args->format && streq (args->format, "frame") && !args->output
    &&  isatty (STDOUT_FILENO))
        cli_usage_error ("download --format frame writes a binary .kmqf: give "
                         "-o FILE.kmqf, or redirect stdout");
    return 0;
}

static int
s_cmd_download (kmq_t *kmq, args_t *args)
{
    const char *format = args->format? args->format: "csv";
    kmq_reply_t *reply = kmq_download (kmq, args->session, args->pos [0], format);
    int status = cli_report (reply);
    char error [512];
    if (status == 0 && streq (format, "frame")) {
        if (kmq_reply_write_kmqf (reply, args->output, error, sizeof error) != 0) {
            fprintf (stderr, "kmq: download %s: %s\n", args->pos [0], error);
            status = EXIT_SERVICE;
        }
    }
    else
    if (status == 0) {
        size_t size;
        const void *data = kmq_reply_payload (reply, 0, &size);
        FILE *out = args->output? fopen (args->output, "wb"): stdout;
        if (!out
        ||  (size && fwrite (data, 1, size, out) != size)
        ||  (out == stdout? fflush (out): fclose (out)) != 0) {
            fprintf (stderr, "kmq: cannot write %s: %s\n",
                     args->output? args->output: "stdout", strerror (errno));
            status = EXIT_USAGE;
        }
    }
    kmq_reply_destroy (&reply);
    return status;
}

//  convert: a .kmqf file as CSV or JSON records, no broker involved.
static int
s_prepare_convert (args_t *args)
{
    const char *path = args->pos [0];
    args->data = cli_read_file (path, &args->size);
    if (!args->data) {
        fprintf (stderr, "kmq: cannot read %s: %s\n", path, strerror (errno));
        return EXIT_USAGE;
    }
    char error [512];
    frame_t *frame = frame_from_kmqf (args->data, args->size, error, sizeof error);
    if (!frame) {
        fprintf (stderr, "kmq: convert %s: %s\n", path, error);
        return EXIT_USAGE;
    }
    const char *to = args->to;
    const char *dot = args->output? strrchr (args->output, '.'): NULL;
    if (!to)
        to = dot && strcasecmp (dot, ".json") == 0? "json": "csv";
    FILE *out = args->output? fopen (args->output, "wb"): stdout;
    int rc = !out? -1: streq (to, "json")? frame_write_json (frame, out)
                                          : frame_write_csv (frame, out);
    if (out && out != stdout && fclose (out) != 0)
        rc = -1;
    frame_destroy (&frame);
    if (rc == 0)
        return 0;
    fprintf (stderr, "kmq: cannot write %s: %s\n",
             args->output? args->output: "stdout", strerror (errno));
    return EXIT_USAGE;
}

static int
s_cmd_simple (kmq_t *kmq, args_t *args, kmq_reply_t *(*request) (kmq_t *, const char *))
{
    kmq_reply_t *reply = request (kmq, args->session);
    int status = cli_report (reply);
    kmq_reply_destroy (&reply);
    return status;
}

static int
s_cmd_reset (kmq_t *kmq, args_t *args)
{
    return s_cmd_simple (kmq, args, kmq_reset);
}

static int
s_cmd_close (kmq_t *kmq, args_t *args)
{
    return s_cmd_simple (kmq, args, kmq_close);
}

static int
s_cmd_interrupt (kmq_t *kmq, args_t *args)
{
    kmq_reply_t *reply = kmq_interrupt (kmq, args->session);
    int status = cli_report (reply);
    if (status == 0)
        printf ("%s\n", kmq_reply_bool (reply, "interrupted", false)?
                "interrupted the running request": "nothing was running");
    kmq_reply_destroy (&reply);
    return status;
}

static int
s_cmd_vars (kmq_t *kmq, args_t *args)
{
    kmq_reply_t *reply = kmq_vars (kmq, args->session);
    int status = cli_report (reply);
    if (status == 0)
        cli_print_vars (reply);
    kmq_reply_destroy (&reply);
    return status;
}

static int
s_cmd_stats (kmq_t *kmq, args_t *args)
{
    kmq_reply_t *reply = kmq_stats (kmq);
    int status = cli_report (reply);
    if (status == 0 && args->json) {
        char *json = kmq_reply_json (reply);
        printf ("%s\n", json);
        free (json);
    }
    else
    if (status == 0)
        cli_print_stats (reply);
    kmq_reply_destroy (&reply);
    return status;
}

static int
s_cmd_shutdown (kmq_t *kmq, args_t *args)
{
    kmq_reply_t *reply = kmq_shutdown (kmq, args->sessions);
    int status = cli_report (reply);
    if (status == 0 && args->sessions)
        printf ("the broker is stopping; %" PRIu64 " session(s) ended, the kernel hosts "
                "exit\n", kmq_reply_uint (reply, "sessions", 0));
    else
    if (status == 0)
        printf ("the broker is stopping; its sessions stay with their kernel hosts for "
                "the next broker\n");
    kmq_reply_destroy (&reply);
    return status;
}

static int
s_prepare_share (args_t *args)
{
    if (!args->with)
        cli_usage_error ("share: --with KEY is required (the other client's public key, "
                         "or its .key file; kmq keys shows yours)");
    return 0;
}

static int
s_cmd_share (kmq_t *kmq, args_t *args)
{
    kmq_reply_t *reply = kmq_share (kmq, args->session, args->with, args->revoke);
    int status = cli_report (reply);
    if (status == 0)
        printf ("session %s: %s\n", args->session, args->revoke ? "no longer shared"
                                                                 : "shared");
    kmq_reply_destroy (&reply);
    return status;
}

//  kmq keys [allow ...]: no broker needed; the files of keys.h.
static int
s_prepare_keys (args_t *args)
{
    char error [512];
    char *dir = keys_dir_default ();
    if (!dir || keys_dir_ensure (dir, error, sizeof error)) {
        fprintf (stderr, "kmq: keys: %s\n", dir ? error : "no config dir: set "
                 "KMQ_CONFIG_DIR or HOME");
        free (dir);
        return EXIT_SERVICE;
    }
    int status = 0;
    if (args->npos == 0) {
        zcert_t *mine = keys_cert_ensure (dir, "client", NULL, error, sizeof error);
        char *path = mem_sprintf ("%s/broker.key", dir);
        char *broker = keys_public_from (path);
        free (path);
        if (!mine) {
            fprintf (stderr, "kmq: keys: %s\n", error);
            status = EXIT_SERVICE;
        }
        else
            printf ("config dir: %s\nyour client key: %s (%s/client.key)\nbroker key: %s\n",
                    dir, zcert_public_txt (mine), dir,
                    broker ? broker : "none here (start the broker once, or copy its "
                                      "broker.key here)");
        free (broker);
        zcert_destroy (&mine);
    }
    else
    if (strcmp (args->pos [0], "allow") == 0 && args->npos >= 2) {
        char *key = keys_public_from (args->pos [1]);
        const char *sub = args->host ? "hosts" : args->gateway ? "gateways" : "clients";
        char label [64];
        if (args->npos >= 3)
            snprintf (label, sizeof label, "%s", args->pos [2]);
        else
            snprintf (label, sizeof label, "key-%.8s", key ? key : "");
        for (char *p = label; *p; p++)
            if (!isalnum ((unsigned char) *p) && *p != '-' && *p != '_' && *p != '.')
                *p = '_';
        if (!key) {
            fprintf (stderr, "kmq: keys allow: '%s' is neither a public key nor a "
                     "certificate file\n", args->pos [1]);
            status = EXIT_USAGE;
        }
        else
        if (keys_allow (dir, sub, label, key, error, sizeof error)) {
            fprintf (stderr, "kmq: keys allow: %s\n", error);
            status = EXIT_SERVICE;
        }
        else
            printf ("allowed %s as %s/%s/%s.key\n", key, dir, sub, label);
        free (key);
    }
    else
        cli_usage_error ("keys: expected nothing, or allow KEY|FILE [NAME]");
    free (dir);
    return status;
}

static int
s_cmd_attach (kmq_t *kmq, args_t *args)
{
    cli_output_t output;
    cli_output_init (&output, NULL);
    kmq_set_event_handler (kmq, cli_on_event, &output);
    kmq_reply_t *reply = kmq_attach (kmq, args->session);
    int status = cli_report (reply);
    kmq_reply_destroy (&reply);
    while (status == 0 && !output.evicted && !cli_interrupted) {
        if (kmq_listen (kmq, -1) < 0)
            status = cli_service_error ("BROKER_LOST", kmq_error (kmq), NULL);
    }
    if (status == 0 && !output.evicted) {
        //  Ctrl-C: leave politely; the broker forgets us anyway on eviction
        cli_interrupted = 0;
        reply = kmq_detach (kmq, args->session);
        kmq_reply_destroy (&reply);
    }
    cli_output_destroy (&output);
    return status;
}

static int
s_prepare_repl (args_t *args)
{
    if (args->save_dir && cli_prepare_save_dir (args->save_dir) != 0)
        return EXIT_USAGE;
    return 0;
}

static int
s_cmd_repl (kmq_t *kmq, args_t *args)
{
    return cli_repl (kmq, args->session, args->save_dir);
}

//  --- main ---------------------------------------------------------------

static const command_t s_commands [] = {
    { "exec", OPT_SESSION | OPT_TIMEOUT | OPT_FILE | OPT_SAVE | OPT_TIME, 0, 1,
      s_prepare_exec, s_cmd_exec },
    { "upload", OPT_SESSION | OPT_FORMAT, 2, 2, s_prepare_upload, s_cmd_upload },
    { "download", OPT_SESSION | OPT_FORMAT | OPT_OUTPUT, 1, 1, s_prepare_download,
      s_cmd_download },
    { "convert", OPT_TO | OPT_OUTPUT, 1, 1, s_prepare_convert, NULL },
    { "reset", OPT_SESSION, 0, 0, NULL, s_cmd_reset },
    { "vars", OPT_SESSION, 0, 0, NULL, s_cmd_vars },
    { "close", OPT_SESSION, 0, 0, NULL, s_cmd_close },
    { "interrupt", OPT_SESSION, 0, 0, NULL, s_cmd_interrupt },
    { "attach", OPT_SESSION, 0, 0, NULL, s_cmd_attach },
    { "stats", OPT_JSON, 0, 0, NULL, s_cmd_stats },
    { "shutdown", OPT_SESSIONS, 0, 0, NULL, s_cmd_shutdown },
    { "share", OPT_SESSION | OPT_WITH | OPT_REVOKE, 0, 0, s_prepare_share, s_cmd_share },
    { "keys", OPT_HOST | OPT_GATEWAY, 0, 3, s_prepare_keys, NULL },
    { "complete", OPT_SESSION | OPT_CURSOR, 1, 1, s_prepare_at_cursor, s_cmd_complete },
    { "inspect", OPT_SESSION | OPT_CURSOR, 1, 1, s_prepare_at_cursor, s_cmd_inspect },
    { "repl", OPT_SESSION | OPT_SAVE, 0, 0, s_prepare_repl, s_cmd_repl },
};

static void
s_on_sigint (int signum)
{
    (void) signum;
    cli_interrupted = 1;
}

int
main (int argc, char **argv)
{
    //  Code is UTF-8 whatever the locale says; the line editor needs a
    //  UTF-8 ctype to pass it through
    setlocale (LC_CTYPE, "");
    if (!strstr (nl_langinfo (CODESET), "UTF-8"))
        setlocale (LC_CTYPE, "C.UTF-8");
    //  Before any socket exists: czmq must not take SIGINT (we want the
    //  default, dying, until a command is under way)
    zsys_handler_set (NULL);

    args_t args;
    memset (&args, 0, sizeof args);
    int i = 1;
    while (i < argc && argv [i][0] == '-') {
        if (strcmp (argv [i], "-h") == 0 || strcmp (argv [i], "--help") == 0) {
            fputs (s_usage, stdout);
            return 0;
        }
        if (strcmp (argv [i], "-e") == 0 || strcmp (argv [i], "--endpoint") == 0) {
            if (i + 1 >= argc)
                cli_usage_error ("option %s needs a value", argv [i]);
            args.endpoint = argv [i + 1];
            i += 2;
        }
        else
        if (strncmp (argv [i], "--endpoint=", 11) == 0)
            args.endpoint = argv [i++] + 11;
        else
            cli_usage_error ("unknown option \"%s\"", argv [i]);
    }
    if (i >= argc)
        cli_usage_error ("no command given");
    if (strcmp (argv [i], "help") == 0) {
        fputs (s_usage, stdout);
        return 0;
    }
    const command_t *command = NULL;
    for (size_t c = 0; c < sizeof s_commands / sizeof s_commands [0]; c++)
        if (strcmp (argv [i], s_commands [c].name) == 0)
            command = &s_commands [c];
    if (!command)
        cli_usage_error ("unknown command \"%s\"", argv [i]);
    s_parse (&args, command, argc, argv, i + 1);
    if (!args.endpoint)
        args.endpoint = getenv ("KMQ_ENDPOINT");
    if (!args.endpoint || !*args.endpoint)
        args.endpoint = DEFAULT_ENDPOINT;

    if (command->prepare) {
        int status = command->prepare (&args);
        if (status || !command->run) {
            free (args.data);
            return status;
        }
    }
    kmq_options_t options;
    memset (&options, 0, sizeof options);
    //  The label other clients of a shared session see (protocol.md 4.5)
    const char *label = getenv ("KMQ_CLIENT");
    if (!label || !*label)
        label = getenv ("USER");
    options.client_name = label && *label? label: "kmq";
    options.interrupt_flag = &cli_interrupted;
    char error [512];
    kmq_t *kmq = kmq_new (args.endpoint, &options, error, sizeof error);
    if (!kmq) {
        fprintf (stderr, "kmq: %s\n", error);
        free (args.data);
        return EXIT_SERVICE;
    }
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_sigint;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);     //  no SA_RESTART: waits end at once

    int status = command->run (kmq, &args);
    kmq_destroy (&kmq);
    free (args.data);
    return status;
}
