/*  kmq — the kernelmq command-line client, on libkmq.

    Exit status: 0 ok, 1 the Python code raised (PYTHON_ERROR), 2 usage
    error, 3 service error (broker unreachable, kernel died, timeout, ...).
    On failure stderr gets one line that says what happened; on success
    stderr stays empty but for a "session state was lost" note.             */
#include <czmq.h>
#include <histedit.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <wchar.h>
#include "kmq.h"

#define EXIT_PYTHON     1
#define EXIT_USAGE      2
#define EXIT_SERVICE    3
#define DEFAULT_ENDPOINT "tcp://127.0.0.1:5555"

//  The one global: set by SIGINT, read by libkmq's wait loop and the repl.
static volatile sig_atomic_t s_interrupted = 0;

static const char *s_usage =
"usage:\n"
"  kmq [-e ENDPOINT] exec -s SESSION [--timeout SEC] [CODE | -f FILE | -]\n"
"  kmq [-e ENDPOINT] upload -s SESSION NAME FILE [--format csv|json|file]\n"
"  kmq [-e ENDPOINT] download -s SESSION NAME [--format csv|json|file] [-o OUT]\n"
"  kmq [-e ENDPOINT] reset|vars|close|interrupt|attach -s SESSION\n"
"  kmq [-e ENDPOINT] stats [--json]\n"
"  kmq [-e ENDPOINT] repl -s SESSION\n"
"  kmq --help\n"
"\n"
"ENDPOINT defaults to $KMQ_ENDPOINT, then " DEFAULT_ENDPOINT ".\n"
"exec runs CODE (or FILE, or stdin with -) in SESSION and prints its output\n"
"and result. upload's format defaults to the FILE's extension (.csv, .json),\n"
"else csv; download's to csv, writing to stdout without -o.\n"
"Exit status: 0 ok, 1 Python raised, 2 usage error, 3 service error.\n";

//  --- arguments ----------------------------------------------------------

enum {
    OPT_SESSION = 1 << 0, OPT_TIMEOUT = 1 << 1, OPT_FILE = 1 << 2,
    OPT_FORMAT = 1 << 3, OPT_OUTPUT = 1 << 4, OPT_JSON = 1 << 5
};

typedef struct {
    const char *endpoint;
    const char *session;
    const char *timeout;
    const char *file;
    const char *format;
    const char *output;
    bool json;
    char *data;                     //  code or upload bytes, read before connecting
    size_t size;
    uint32_t timeout_ms;
    int npos;
    const char *pos [8];
} args_t;

typedef struct {
    const char *name;
    int options;                    //  OPT_ flags the command takes
    int min_pos, max_pos;           //  positional arguments
    int (*prepare) (args_t *args);  //  before connecting: 0 or exit status
    int (*run) (kmq_t *kmq, args_t *args);
} command_t;

static void
s_usage_error (const char *format, ...) __attribute__ ((format (printf, 1, 2), noreturn));

static void
s_usage_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "kmq: ");
    vfprintf (stderr, format, args);
    fprintf (stderr, "; try kmq --help\n");
    va_end (args);
    exit (EXIT_USAGE);
}

//  Prints a service error line, turning newlines into spaces so it stays one.
static int
s_service_error (const char *name, const char *message, const char *extra)
{
    fprintf (stderr, "kmq: %s: ", name);
    for (const char *c = message; *c; c++)
        fputc (*c == '\n'? ' ': *c, stderr);
    if (extra && *extra)
        fprintf (stderr, " (%s)", extra);
    fputc ('\n', stderr);
    return EXIT_SERVICE;
}

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
    };
    bool options_done = false;
    for (int i = first; i < argc; i++) {
        const char *arg = argv [i];
        if (options_done || arg [0] != '-' || strcmp (arg, "-") == 0) {
            if (args->npos >= command->max_pos || args->npos >= 8)
                s_usage_error ("%s: unexpected argument \"%s\"", command->name, arg);
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
            s_usage_error ("%s: unknown option \"%.*s\"", command->name, (int) len, arg);
        if (flag == OPT_JSON) {
            if (value)
                s_usage_error ("%s: --json takes no value", command->name);
            args->json = true;
            continue;
        }
        if (!value) {
            if (i + 1 >= argc)
                s_usage_error ("%s: option %s needs a value", command->name, arg);
            value = argv [++i];
        }
        if (is_endpoint)
            args->endpoint = value;
        else
        if (flag == OPT_SESSION)
            args->session = value;
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
    }
    if (args->npos < command->min_pos)
        s_usage_error ("%s: missing arguments", command->name);
    if ((command->options & OPT_SESSION) && !args->session)
        s_usage_error ("%s needs -s SESSION", command->name);
    if (args->session && !kmq_session_valid (args->session))
        s_usage_error ("invalid session key \"%s\": use 1-128 characters of"
                       " A-Z a-z 0-9 . _ : -", args->session);
    if (args->format && strcmp (args->format, "csv") && strcmp (args->format, "json")
    &&  strcmp (args->format, "file"))
        s_usage_error ("%s: unknown format \"%s\": use csv, json or file",
                       command->name, args->format);
}

//  Reads a whole file ("-" is stdin) into a new buffer; NULL with errno.
static char *
s_read_file (const char *path, size_t *size)
{
    FILE *file = strcmp (path, "-") == 0? stdin: fopen (path, "rb");
    if (!file)
        return NULL;
    size_t capacity = 65536, used = 0;
    char *data = (char *) malloc (capacity + 1);
    while (data) {
        size_t got = fread (data + used, 1, capacity - used, file);
        used += got;
        if (used < capacity) {
            if (ferror (file)) {
                int saved = errno;
                free (data);
                data = NULL;
                errno = saved;
            }
            break;
        }
        capacity *= 2;
        char *bigger = (char *) realloc (data, capacity + 1);
        if (!bigger)
            free (data);
        data = bigger;
    }
    if (file != stdin)
        fclose (file);
    if (data) {
        data [used] = 0;
        *size = used;
    }
    return data;
}

//  --- replies and events ----------------------------------------------------

//  Prints what every reply may carry and the error if any. Returns the exit
//  status for the reply.
static int
s_report (kmq_reply_t *reply)
{
    if (kmq_reply_state_lost (reply)) {
        const char *notice = kmq_reply_notice (reply);
        fprintf (stderr, "kmq: note: session state was lost: %s\n",
                 *notice? notice: "the kernel was replaced");
    }
    if (kmq_reply_ok (reply))
        return 0;
    const char *error = kmq_reply_error (reply);
    const char *message = kmq_reply_message (reply);
    if (strcmp (error, "PYTHON_ERROR") == 0) {
        const char *ename = kmq_reply_str (reply, "ename");
        const char *evalue = kmq_reply_str (reply, "evalue");
        size_t lines = kmq_reply_strings (reply, "traceback");
        const char *last = "";
        for (size_t i = 0; i < lines; i++) {
            const char *line = kmq_reply_string_at (reply, "traceback", i);
            if (!line || !*line)
                continue;
            fputs (line, stderr);
            if (line [strlen (line) - 1] != '\n')
                fputc ('\n', stderr);
            last = line;
        }
        //  End with "Ename: evalue" whatever the traceback held
        char *summary = ename && evalue && *evalue? zsys_sprintf ("%s: %s", ename, evalue)
                      : strdup (ename? ename: message);
        size_t len = strlen (last);
        while (len && (last [len - 1] == '\n' || last [len - 1] == ' '))
            len--;
        const char *tail = last + len;
        while (tail > last && tail [-1] != '\n')
            tail--;
        if (strncmp (tail, summary, (size_t) (last + len - tail)) != 0
        ||  strlen (summary) != (size_t) (last + len - tail))
            fprintf (stderr, "%s\n", summary);
        free (summary);
        fflush (stderr);
        return EXIT_PYTHON;
    }
    const char *extra = NULL;
    char note [300] = "";
    if (strcmp (error, "KERNEL_DIED") == 0) {
        const char *cause = kmq_reply_str (reply, "cause");
        if (cause && !strstr (message, cause))
            extra = cause;
    }
    else
    if (strcmp (error, "TIMEOUT") == 0 && kmq_reply_bool (reply, "killed", false)
    &&  !strstr (message, "kill")) {
        snprintf (note, sizeof note, "the kernel was killed: session state is lost");
        extra = note;
    }
    return s_service_error (error, message, extra);
}

typedef struct {
    int last_stdout;                //  last byte written to stdout, or -1
    bool evicted;                   //  attach: the session is gone
} output_t;

static void
s_on_event (const kmq_event_t *event, void *arg)
{
    output_t *output = (output_t *) arg;
    if (strcmp (event->kind, "stream") == 0) {
        bool to_err = strcmp (event->name, "stderr") == 0;
        FILE *stream = to_err? stderr: stdout;
        fwrite (event->data, 1, event->size, stream);
        fflush (stream);
        if (!to_err && event->size)
            output->last_stdout = ((const unsigned char *) event->data) [event->size - 1];
    }
    else
    if (strcmp (event->kind, "truncated") == 0)
        fprintf (stderr, "kmq: note: %s passed %" PRIu64 " bytes; the rest of"
                 " the output was dropped\n", event->name, event->limit);
    else
    if (strcmp (event->kind, "evicted") == 0) {
        fprintf (stdout, "kmq: session %s evicted: %s\n", event->session,
                 *event->message? event->message: "its kernel is gone");
        fflush (stdout);
        output->evicted = true;
    }
}

//  Prints an execute reply's text/plain result, prefix first. 0 or exit status.
static int
s_print_result (kmq_reply_t *reply, const char *prefix, output_t *output)
{
    int status = s_report (reply);
    if (status)
        return status;
    size_t count = kmq_reply_strings (reply, "mime");
    for (size_t i = 0; i < count; i++) {
        const char *mime = kmq_reply_string_at (reply, "mime", i);
        size_t size;
        const void *data = kmq_reply_payload (reply, i, &size);
        if (!mime || !data || strcmp (mime, "text/plain") != 0)
            continue;
        fputs (prefix, stdout);
        //  A multi-line repr (a DataFrame) starts on its own line, as in IPython
        if (*prefix && memchr (data, '\n', size))
            fputc ('\n', stdout);
        fwrite (data, 1, size, stdout);
        fputc ('\n', stdout);
        output->last_stdout = '\n';
    }
    fflush (stdout);
    return 0;
}

//  --- commands -----------------------------------------------------------

static int
s_prepare_exec (args_t *args)
{
    const char *source = args->file;
    if (args->npos && args->file)
        s_usage_error ("exec: give CODE, -f FILE or -, not two of them");
    if (!args->npos && !args->file)
        s_usage_error ("exec needs CODE, -f FILE or - (stdin)");
    if (args->npos && strcmp (args->pos [0], "-") == 0)
        source = "-";
    if (args->timeout) {
        char *end;
        double seconds = strtod (args->timeout, &end);
        if (*end || !(seconds > 0) || seconds > 4000000)
            s_usage_error ("exec: --timeout takes seconds > 0, not \"%s\"", args->timeout);
        args->timeout_ms = (uint32_t) (seconds * 1000 + 0.5);
        if (args->timeout_ms == 0)
            args->timeout_ms = 1;
    }
    if (source) {
        args->data = s_read_file (source, &args->size);
        if (!args->data) {
            fprintf (stderr, "kmq: cannot read %s: %s\n", source, strerror (errno));
            return EXIT_USAGE;
        }
    }
    else {
        args->data = strdup (args->pos [0]);
        args->size = strlen (args->data);
    }
    return 0;
}

static int
s_cmd_exec (kmq_t *kmq, args_t *args)
{
    output_t output = { -1, false };
    kmq_set_event_handler (kmq, s_on_event, &output);
    kmq_reply_t *reply = kmq_execute (kmq, args->session, args->data, args->size,
                                      args->timeout_ms);
    int status = s_print_result (reply, "", &output);
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
        args->format = dot && strcasecmp (dot, ".json") == 0? "json": "csv";
    }
    args->data = s_read_file (path, &args->size);
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
    int status = s_report (reply);
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

static int
s_cmd_download (kmq_t *kmq, args_t *args)
{
    const char *format = args->format? args->format: "csv";
    kmq_reply_t *reply = kmq_download (kmq, args->session, args->pos [0], format);
    int status = s_report (reply);
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

static int
s_cmd_simple (kmq_t *kmq, args_t *args, kmq_reply_t *(*request) (kmq_t *, const char *))
{
    kmq_reply_t *reply = request (kmq, args->session);
    int status = s_report (reply);
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
    int status = s_report (reply);
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
    int status = s_report (reply);
    if (status == 0) {
        size_t count = kmq_reply_var_count (reply);
        char **sizes = (char **) calloc (count + 1, sizeof (char *));
        int name_w = 4, type_w = 4;
        for (size_t i = 0; i < count; i++) {
            kmq_var_t var;
            kmq_reply_var (reply, i, &var);
            if ((int) strlen (var.name) > name_w)
                name_w = (int) strlen (var.name);
            if ((int) strlen (var.type) > type_w)
                type_w = (int) strlen (var.type);
            char text [200] = "-";
            if (var.ndim) {
                size_t used = 0;
                for (size_t d = 0; d < var.ndim && d < 8 && used < 150; d++)
                    used += (size_t) snprintf (text + used, sizeof text - used,
                                               "%s%" PRIu64, d? "x": "", var.shape [d]);
            }
            else
            if (var.has_len)
                snprintf (text, sizeof text, "len %" PRIu64, var.len);
            sizes [i] = strdup (text);
        }
        printf ("%-*s  %-*s  size\n", name_w, "name", type_w, "type");
        for (size_t i = 0; i < count; i++) {
            kmq_var_t var;
            kmq_reply_var (reply, i, &var);
            printf ("%-*s  %-*s  %s\n", name_w, var.name, type_w, var.type, sizes [i]);
            free (sizes [i]);
        }
        free (sizes);
    }
    kmq_reply_destroy (&reply);
    return status;
}

static void
s_print_duration (char *buffer, size_t size, uint64_t ms)
{
    if (ms < 60000)
        snprintf (buffer, size, "%.1f s", ms / 1000.0);
    else
    if (ms < 3600000)
        snprintf (buffer, size, "%" PRIu64 " min %" PRIu64 " s", ms / 60000,
                  ms / 1000 % 60);
    else
        snprintf (buffer, size, "%" PRIu64 " h %" PRIu64 " min", ms / 3600000,
                  ms / 60000 % 60);
}

static int
s_cmd_stats (kmq_t *kmq, args_t *args)
{
    kmq_reply_t *reply = kmq_stats (kmq);
    int status = s_report (reply);
    if (status == 0 && args->json) {
        char *json = kmq_reply_json (reply);
        printf ("%s\n", json);
        free (json);
    }
    else
    if (status == 0) {
        const char *broker = kmq_reply_str (reply, "broker");
        char uptime [64];
        s_print_duration (uptime, sizeof uptime, kmq_reply_uint (reply, "uptime_ms", 0));
        printf ("broker    %s, protocol %" PRIu64 ", up %s\n", broker? broker: "?",
                kmq_reply_uint (reply, "version", 0), uptime);
        printf ("sessions  %" PRIu64 " live (max %" PRIu64 "), %" PRIu64 " kernels,"
                " %" PRIu64 " requests queued\n",
                kmq_reply_uint (reply, "sessions", 0),
                kmq_reply_uint (reply, "max_sessions", 0),
                kmq_reply_uint (reply, "kernels", 0),
                kmq_reply_uint (reply, "queued", 0));
        size_t count = kmq_reply_session_count (reply);
        int key_w = 7;
        for (size_t i = 0; i < count; i++) {
            kmq_session_info_t info;
            kmq_reply_session (reply, i, &info);
            if ((int) strlen (info.session) > key_w)
                key_w = (int) strlen (info.session);
        }
        if (count)
            printf ("\n%-*s  %-8s  %-8s  %-6s  %-10s  %s\n", key_w, "session", "state",
                    "pid", "queued", "idle", "requests");
        for (size_t i = 0; i < count; i++) {
            kmq_session_info_t info;
            kmq_reply_session (reply, i, &info);
            char idle [64];
            s_print_duration (idle, sizeof idle, info.idle_ms);
            printf ("%-*s  %-8s  %-8" PRIu64 "  %-6" PRIu64 "  %-10s  %" PRIu64 "\n",
                    key_w, info.session, info.state, info.pid, info.queued, idle,
                    info.requests);
        }
    }
    kmq_reply_destroy (&reply);
    return status;
}

static int
s_cmd_attach (kmq_t *kmq, args_t *args)
{
    output_t output = { -1, false };
    kmq_set_event_handler (kmq, s_on_event, &output);
    kmq_reply_t *reply = kmq_attach (kmq, args->session);
    int status = s_report (reply);
    kmq_reply_destroy (&reply);
    while (status == 0 && !output.evicted && !s_interrupted) {
        if (kmq_listen (kmq, -1) < 0)
            status = s_service_error ("BROKER_LOST", kmq_error (kmq), NULL);
    }
    if (status == 0 && !output.evicted) {
        //  Ctrl-C: leave politely; the broker forgets us anyway on eviction
        s_interrupted = 0;
        reply = kmq_detach (kmq, args->session);
        kmq_reply_destroy (&reply);
    }
    return status;
}

//  --- repl -----------------------------------------------------------------

typedef struct {
    uint64_t count;                 //  number in the next "In [n]: "
    bool continuation;
    char prompt [48];
} repl_t;

static char *
s_prompt (EditLine *el)
{
    repl_t *repl = NULL;
    el_get (el, EL_CLIENTDATA, &repl);
    if (repl->continuation) {
        //  "   ...: " as wide as "In [n]: "
        int width = snprintf (NULL, 0, "In [%" PRIu64 "]: ", repl->count);
        snprintf (repl->prompt, sizeof repl->prompt, "%*s", width, "...: ");
    }
    else
        snprintf (repl->prompt, sizeof repl->prompt, "In [%" PRIu64 "]: ", repl->count);
    return repl->prompt;
}

//  libedit's character source: our own, so that Ctrl-C (s_interrupted)
//  ends el_gets with EINTR at once and the line can be cleared.
static int
s_getc (EditLine *el, wchar_t *wc)
{
    (void) el;
    char bytes [MB_LEN_MAX];
    size_t used = 0;
    mbstate_t state;
    while (true) {
        if (s_interrupted) {
            errno = EINTR;
            return -1;
        }
        struct pollfd item = { STDIN_FILENO, POLLIN, 0 };
        int rc = poll (&item, 1, 200);
        if (rc < 0 && errno != EINTR)
            return -1;
        if (rc <= 0)
            continue;
        ssize_t got = read (STDIN_FILENO, bytes + used, 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return got == 0 && used == 0? 0: -1;
        used++;
        memset (&state, 0, sizeof state);   //  decode all bytes read so far afresh
        size_t done = mbrtowc (wc, bytes, used, &state);
        if (done == (size_t) -2 && used < sizeof bytes)
            continue;               //  a multi-byte character goes on
        if (done == (size_t) -1 || done == (size_t) -2)
            *wc = (unsigned char) bytes [0];
        return 1;
    }
}

//  Local completeness heuristic: true when the cell so far is a complete
//  statement (brackets balanced, no open string, no trailing ':' or '\').
//  *opens_block is set when the last line ends with ':' (or is a decorator).
static bool
s_complete (const char *cell, bool *opens_block)
{
    int depth = 0;
    char quote = 0;                 //  ' or " when inside a string
    bool triple = false;
    char last = 0;                  //  last significant character
    bool decorator = false, line_start = true;
    for (const char *c = cell; *c; c++) {
        if (quote) {
            if (*c == '\\' && c [1]) {
                c++;
                continue;
            }
            if (*c == quote && (!triple || (c [1] == quote && c [2] == quote))) {
                if (triple)
                    c += 2;
                quote = 0;
                last = 'x';
            }
            else
            if (*c == '\n' && !triple) {
                quote = 0;          //  unterminated one-line string: Python's error
                line_start = true;
            }
            continue;
        }
        if (*c == '#') {
            while (c [1] && c [1] != '\n')
                c++;
            continue;
        }
        if (*c == '\n') {
            line_start = true;
            continue;
        }
        if (*c == ' ' || *c == '\t' || *c == '\r')
            continue;
        if (line_start)
            decorator = *c == '@';
        line_start = false;
        if (*c == '\'' || *c == '"') {
            quote = *c;
            triple = c [1] == *c && c [2] == *c;
            if (triple)
                c += 2;
            continue;
        }
        if (strchr ("([{", *c))
            depth++;
        else
        if (strchr (")]}", *c))
            depth--;
        last = *c;
    }
    //  A backslash right before the final newline continues the line
    size_t len = strlen (cell);
    while (len && (cell [len - 1] == '\n' || cell [len - 1] == '\r'))
        len--;
    bool backslash = len && cell [len - 1] == '\\' && !quote;
    *opens_block = (last == ':' && depth <= 0 && !quote) || decorator;
    return depth <= 0 && !(quote && triple) && !backslash && !*opens_block;
}

static void
s_repl_run (kmq_t *kmq, const char *session, repl_t *repl, output_t *output,
            const char *cell)
{
    kmq_reply_t *reply = kmq_execute (kmq, session, cell, strlen (cell), 0);
    s_interrupted = 0;
    const char *error = kmq_reply_error (reply);
    if (error && streq (error, "INTERRUPTED"))
        fputc ('\n', stderr);      //  past the terminal's "^C"
    char prefix [48];
    snprintf (prefix, sizeof prefix, "Out[%" PRIu64 "]: ",
              kmq_reply_uint (reply, "execution_count", repl->count));
    s_print_result (reply, prefix, output);
    if (kmq_reply_str (reply, "status"))            //  an answer from a kernel
        repl->count = kmq_reply_uint (reply, "execution_count", repl->count - 1) + 1;
    kmq_reply_destroy (&reply);
    if (output->last_stdout != -1 && output->last_stdout != '\n')
        fputc ('\n', stdout);
    output->last_stdout = -1;
    fflush (stdout);
}

static int
s_cmd_repl (kmq_t *kmq, args_t *args)
{
    repl_t repl = { 1, false, "" };
    output_t output = { -1, false };
    kmq_set_event_handler (kmq, s_on_event, &output);
    EditLine *el = el_init ("kmq", stdin, stdout, stderr);
    History *history_ = history_init ();
    if (!el || !history_) {
        fprintf (stderr, "kmq: cannot start the line editor (is stdin usable?)\n");
        if (el)
            el_end (el);
        if (history_)
            history_end (history_);
        return EXIT_SERVICE;
    }
    HistEvent event;
    history (history_, &event, H_SETSIZE, 1000);
    history (history_, &event, H_SETUNIQUE, 1);
    el_set (el, EL_EDITOR, "emacs");
    el_set (el, EL_HIST, history, history_);
    el_set (el, EL_CLIENTDATA, &repl);
    el_set (el, EL_PROMPT, s_prompt);
    el_set (el, EL_GETCFN, s_getc);
    el_source (el, NULL);           //  the user's ~/.editrc, if any

    printf ("kmq repl: session %s on %s. A cell ends at a blank line;"
            " Ctrl-C interrupts, Ctrl-D leaves.\n", args->session, kmq_broker_name (kmq));
    zchunk_t *cell = zchunk_new (NULL, 256);
    bool block = false;
    while (true) {
        repl.continuation = zchunk_size (cell) > 0;
        int count = 0;
        s_interrupted = 0;
        const char *line = el_gets (el, &count);
        if (!line && count < 0 && s_interrupted) {
            //  Ctrl-C at the prompt: drop the cell, new prompt
            s_interrupted = 0;
            fputs ("^C\n", stdout);
            fflush (stdout);
            zchunk_set (cell, NULL, 0);
            block = false;
            continue;
        }
        if (!line || count <= 0) {
            if (isatty (STDIN_FILENO))
                fputc ('\n', stdout);
            break;                  //  Ctrl-D or end of input
        }
        size_t len = strlen (line);
        while (len && (line [len - 1] == '\n' || line [len - 1] == '\r'))
            len--;
        bool blank = true;
        for (size_t i = 0; i < len; i++)
            if (line [i] != ' ' && line [i] != '\t')
                blank = false;
        if (blank && zchunk_size (cell) == 0)
            continue;
        if (!blank) {
            zchunk_extend (cell, line, len);
            zchunk_extend (cell, "\n", 1);
        }
        char *text = (char *) zmalloc (zchunk_size (cell) + 1);
        memcpy (text, zchunk_data (cell), zchunk_size (cell));
        bool opens = false;
        bool complete = s_complete (text, &opens);
        if (opens)
            block = true;
        if (blank || (!block && complete)) {
            size_t text_len = strlen (text);
            if (text_len && text [text_len - 1] == '\n')
                text [text_len - 1] = 0;
            history (history_, &event, H_ENTER, text);
            s_repl_run (kmq, args->session, &repl, &output, text);
            zchunk_set (cell, NULL, 0);
            block = false;
        }
        free (text);
    }
    zchunk_destroy (&cell);
    history_end (history_);
    el_end (el);
    return 0;
}

//  --- main ---------------------------------------------------------------

static const command_t s_commands [] = {
    { "exec", OPT_SESSION | OPT_TIMEOUT | OPT_FILE, 0, 1, s_prepare_exec, s_cmd_exec },
    { "upload", OPT_SESSION | OPT_FORMAT, 2, 2, s_prepare_upload, s_cmd_upload },
    { "download", OPT_SESSION | OPT_FORMAT | OPT_OUTPUT, 1, 1, NULL, s_cmd_download },
    { "reset", OPT_SESSION, 0, 0, NULL, s_cmd_reset },
    { "vars", OPT_SESSION, 0, 0, NULL, s_cmd_vars },
    { "close", OPT_SESSION, 0, 0, NULL, s_cmd_close },
    { "interrupt", OPT_SESSION, 0, 0, NULL, s_cmd_interrupt },
    { "attach", OPT_SESSION, 0, 0, NULL, s_cmd_attach },
    { "stats", OPT_JSON, 0, 0, NULL, s_cmd_stats },
    { "repl", OPT_SESSION, 0, 0, NULL, s_cmd_repl },
};

static void
s_on_sigint (int signum)
{
    (void) signum;
    s_interrupted = 1;
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
                s_usage_error ("option %s needs a value", argv [i]);
            args.endpoint = argv [i + 1];
            i += 2;
        }
        else
        if (strncmp (argv [i], "--endpoint=", 11) == 0)
            args.endpoint = argv [i++] + 11;
        else
            s_usage_error ("unknown option \"%s\"", argv [i]);
    }
    if (i >= argc)
        s_usage_error ("no command given");
    if (strcmp (argv [i], "help") == 0) {
        fputs (s_usage, stdout);
        return 0;
    }
    const command_t *command = NULL;
    for (size_t c = 0; c < sizeof s_commands / sizeof s_commands [0]; c++)
        if (strcmp (argv [i], s_commands [c].name) == 0)
            command = &s_commands [c];
    if (!command)
        s_usage_error ("unknown command \"%s\"", argv [i]);
    s_parse (&args, command, argc, argv, i + 1);
    if (!args.endpoint)
        args.endpoint = getenv ("KMQ_ENDPOINT");
    if (!args.endpoint || !*args.endpoint)
        args.endpoint = DEFAULT_ENDPOINT;

    if (command->prepare) {
        int status = command->prepare (&args);
        if (status)
            return status;
    }
    kmq_options_t options;
    memset (&options, 0, sizeof options);
    options.client_name = "kmq-cli 0.1";
    options.interrupt_flag = &s_interrupted;
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
