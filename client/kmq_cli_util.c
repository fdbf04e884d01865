/*  kmq_cli_util — the kmq CLI's printing: errors, replies, events, and the
    files of --save-display.

    --save-display DIR: every rich part of a cell's output (each
    non-text/plain entry of a display event or of the result, of a type we
    know) becomes DIR/out-<execution_count>-<n>.<ext>, n counting from 1 in
    the order the parts came. A display event comes before the reply that
    tells the cell's number, so its parts are written at once under a
    temporary name in DIR and renamed when the reply arrives (to out-0-<n>
    when the reply carries no number: the code never ran to its end).   */
#include <sys/stat.h>
#include "kmq_cli.h"
#include "mem.h"

//  --- errors and input ----------------------------------------------------

void
cli_usage_error (const char *format, ...)
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
int
cli_service_error (const char *name, const char *message, const char *extra)
{
    fprintf (stderr, "kmq: %s: ", name);
    for (const char *c = message; *c; c++)
        fputc (*c == '\n'? ' ': *c, stderr);
    if (extra && *extra)
        fprintf (stderr, " (%s)", extra);
    fputc ('\n', stderr);
    return EXIT_SERVICE;
}

//  Reads a whole file ("-" is stdin) into a new buffer; NULL with errno.
char *
cli_read_file (const char *path, size_t *size)
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

//  --- replies ---------------------------------------------------------------

//  Prints what every reply may carry and the error if any. Returns the exit
//  status for the reply.
int
cli_report (kmq_reply_t *reply)
{
    if (kmq_reply_state_lost (reply)) {
        const char *notice = kmq_reply_notice (reply);
        fprintf (stderr, "kmq: note: session state was lost: %s\n",
                 *notice? notice: "the kernel was replaced");
    }
    if (kmq_reply_bool (reply, "restored", false))
        fprintf (stderr, "kmq: note: %s\n", kmq_reply_notice (reply));
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
        char *summary = ename && evalue && *evalue? mem_sprintf ("%s: %s", ename, evalue)
                      : mem_strdup (ename? ename: message);
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
    return cli_service_error (error, message, extra);
}

//  --- saved displays ------------------------------------------------------

//  A rich part written under a temporary name, waiting for the cell number.
typedef struct {
    char *temp;
    char *mime;
    const char *ext;
    size_t n;
} s_pending_t;

static void
s_pending_destroy (s_pending_t **self_p)
{
    s_pending_t *self = *self_p;
    if (!self)
        return;
    free (self->temp);
    free (self->mime);
    free (self);
    *self_p = NULL;
}

//  File extension for a MIME type we save; NULL for text/plain and for
//  types we do not know (a receiver ignores those, protocol.md 4.3).
static const char *
s_extension (const char *mime)
{
    static const char *table [][2] = {
        { "text/html", "html" }, { "text/markdown", "md" },
        { "text/latex", "tex" }, { "image/svg+xml", "svg" },
        { "image/png", "png" }, { "image/jpeg", "jpg" },
        { "application/json", "json" },
        { "application/vnd.plotly.v1+json", "json" },
    };
    for (size_t i = 0; i < sizeof table / sizeof table [0]; i++)
        if (streq (mime, table [i][0]))
            return table [i][1];
    return NULL;
}

static char *
s_path (const char *dir, const char *name)
{
    size_t len = strlen (dir);
    return mem_sprintf ("%s%s%s", dir, len && dir [len - 1] == '/'? "": "/", name);
}

//  Writes data to path; 0, or -1 with a line on stderr.
static int
s_write_file (const char *path, const void *data, size_t size)
{
    FILE *file = fopen (path, "wb");
    if (file && (size == 0 || fwrite (data, 1, size, file) == size)
    &&  fclose (file) == 0)
        return 0;
    int saved = errno;
    if (file)
        fclose (file);
    fprintf (stderr, "kmq: cannot write %s: %s\n", path, strerror (saved));
    return -1;
}

void
cli_output_init (cli_output_t *output, const char *save_dir)
{
    memset (output, 0, sizeof *output);
    output->last_stdout = -1;
    output->save_dir = save_dir;
    output->pending = zlist_new ();
}

void
cli_output_destroy (cli_output_t *output)
{
    s_pending_t *pending;
    while (output->pending && (pending = (s_pending_t *) zlist_pop (output->pending))) {
        remove (pending->temp);
        s_pending_destroy (&pending);
    }
    zlist_destroy (&output->pending);
}

int
cli_prepare_save_dir (const char *dir)
{
    struct stat info;
    if (stat (dir, &info) == 0 && S_ISDIR (info.st_mode))
        return 0;
    if (mkdir (dir, 0777) == 0)
        return 0;
    fprintf (stderr, "kmq: --save-display: cannot use %s as a directory: %s\n",
             dir, strerror (errno));
    return -1;
}

//  A display event's rich parts: written now under temporary names.
static void
s_save_display (cli_output_t *output, const kmq_event_t *event)
{
    for (size_t i = 0; i < event->mime_count; i++) {
        const char *ext = s_extension (event->mime [i]);
        if (!ext)
            continue;
        size_t n = ++output->saved;
        char name [64];
        snprintf (name, sizeof name, ".kmq-%d-%zu.part", (int) getpid (), n);
        char *temp = s_path (output->save_dir, name);
        if (s_write_file (temp, event->payloads [i], event->sizes [i]) != 0) {
            output->save_failed = true;
            free (temp);
            continue;
        }
        s_pending_t *pending = (s_pending_t *) zmalloc (sizeof (s_pending_t));
        pending->temp = temp;
        pending->mime = mem_strdup (event->mime [i]);
        pending->ext = ext;
        pending->n = n;
        zlist_append (output->pending, pending);
    }
}

//  At the reply: the pending files get their names, in order.
static void
s_name_pending (cli_output_t *output, uint64_t count)
{
    s_pending_t *pending;
    while ((pending = (s_pending_t *) zlist_pop (output->pending))) {
        char name [96];
        snprintf (name, sizeof name, "out-%" PRIu64 "-%zu.%s", count, pending->n,
                  pending->ext);
        char *path = s_path (output->save_dir, name);
        if (rename (pending->temp, path) == 0)
            fprintf (stderr, "kmq: saved %s to %s\n", pending->mime, path);
        else {
            fprintf (stderr, "kmq: cannot rename %s to %s: %s\n", pending->temp,
                     path, strerror (errno));
            remove (pending->temp);
            output->save_failed = true;
        }
        free (path);
        s_pending_destroy (&pending);
    }
}

//  The result's rich parts: their number is known, written at once.
static void
s_save_result (cli_output_t *output, kmq_reply_t *reply, uint64_t count)
{
    size_t entries = kmq_reply_mime_count (reply);
    for (size_t i = 0; i < entries; i++) {
        const char *mime = kmq_reply_mime (reply, i);
        const char *ext = mime? s_extension (mime): NULL;
        if (!ext)
            continue;
        size_t size;
        const void *data = kmq_reply_mime_data (reply, i, &size);
        char name [96];
        snprintf (name, sizeof name, "out-%" PRIu64 "-%zu.%s", count,
                  ++output->saved, ext);
        char *path = s_path (output->save_dir, name);
        if (s_write_file (path, data, size) == 0)
            fprintf (stderr, "kmq: saved %s to %s\n", mime, path);
        else
            output->save_failed = true;
        free (path);
    }
}

//  --- events and results ---------------------------------------------------

//  Writes a text/plain part to stdout on its own line, prefix first.
static void
s_print_plain (cli_output_t *output, const char *prefix, const void *data, size_t size)
{
    fputs (prefix, stdout);
    //  A multi-line repr (a DataFrame) starts on its own line, as in IPython
    if (*prefix && memchr (data, '\n', size))
        fputc ('\n', stdout);
    fwrite (data, 1, size, stdout);
    fputc ('\n', stdout);
    fflush (stdout);
    output->last_stdout = '\n';
}

//  Ends the current line of stdout if the output left it open.
static void
s_newline (cli_output_t *output)
{
    if (output->last_stdout != -1 && output->last_stdout != '\n')
        fputc ('\n', stdout);
    output->last_stdout = '\n';
}

//  What another client of a shared session did (protocol.md 4.5), as a
//  notebook transcript: In [n] (client): code, its output, Out[n]: or the
//  error; uploads, resets and kernel restarts in brackets.
static void
s_on_shared_event (cli_output_t *output, const kmq_event_t *event)
{
    if (event->id != 0)
        return;                     //  our own request: exec prints it itself
    const char *who = event->client;
    if (streq (event->kind, "input")) {
        s_newline (output);
        if (streq (event->request_type, "execute")) {
            fprintf (stdout, "\nIn [%" PRIu64 "] (%s):\n", event->execution_count, who);
            fwrite (event->data, 1, event->size, stdout);
            if (event->size == 0 || ((const char *) event->data) [event->size - 1] != '\n')
                fputc ('\n', stdout);
        }
        else
        if (streq (event->request_type, "upload"))
            fprintf (stdout, "[%s uploaded %s]\n", who, event->name);
        else
            fprintf (stdout, "[%s: %s]\n", who, event->request_type);
    }
    else
    if (streq (event->kind, "outcome") && event->outcome) {
        kmq_reply_t *reply = event->outcome;
        s_newline (output);
        uint64_t count = kmq_reply_execution_count (reply);
        size_t size;
        const void *data = kmq_reply_mime_find (reply, "text/plain", &size);
        if (kmq_reply_ok (reply) && data) {
            char prefix [48];
            snprintf (prefix, sizeof prefix, "Out[%" PRIu64 "]: ", count);
            s_print_plain (output, prefix, data, size);
        }
        else
        if (!kmq_reply_ok (reply)) {
            fflush (stdout);
            cli_report (reply);
        }
    }
    else
    if (streq (event->kind, "kernel")) {
        s_newline (output);
        fprintf (stdout, "[kernel %s: %s]\n", event->state, event->message);
    }
    fflush (stdout);
}

void
cli_on_event (const kmq_event_t *event, void *arg)
{
    cli_output_t *output = (cli_output_t *) arg;
    if (streq (event->kind, "stream")) {
        bool to_err = streq (event->name, "stderr");
        FILE *stream = to_err? stderr: stdout;
        fwrite (event->data, 1, event->size, stream);
        fflush (stream);
        if (!to_err && event->size)
            output->last_stdout = ((const unsigned char *) event->data) [event->size - 1];
    }
    else
    if (streq (event->kind, "display")) {
        for (size_t i = 0; i < event->mime_count; i++)
            if (streq (event->mime [i], "text/plain"))
                s_print_plain (output, "", event->payloads [i], event->sizes [i]);
        if (output->save_dir)
            s_save_display (output, event);
    }
    else
    if (streq (event->kind, "resumed"))
        fprintf (stderr, "kmq: note: %s\n", event->message);
    else
    if (streq (event->kind, "truncated"))
        fprintf (stderr, "kmq: note: %s passed %" PRIu64 " bytes; the rest of"
                 " the output was dropped\n", event->name, event->limit);
    else
    if (streq (event->kind, "evicted") || streq (event->kind, "detached")) {
        fprintf (stdout, "kmq: session %s %s: %s\n", event->session, event->kind,
                 *event->message? event->message: "its kernel is gone");
        fflush (stdout);
        output->evicted = true;
    }
    else
        s_on_shared_event (output, event);
}

int
cli_print_result (kmq_reply_t *reply, const char *prefix, cli_output_t *output)
{
    uint64_t count = kmq_reply_execution_count (reply);
    s_name_pending (output, count);
    int status = cli_report (reply);
    if (status == 0) {
        size_t size;
        const void *data = kmq_reply_mime_find (reply, "text/plain", &size);
        if (data)
            s_print_plain (output, prefix, data, size);
        if (output->save_dir)
            s_save_result (output, reply, count);
    }
    fflush (stdout);
    if (status == 0 && output->save_failed)
        status = EXIT_USAGE;
    output->saved = 0;
    output->save_failed = false;
    return status;
}

//  --- tables -----------------------------------------------------------------

void
cli_print_vars (kmq_reply_t *reply)
{
    size_t count = kmq_reply_var_count (reply);
    char **sizes = (char **) mem_alloc ((count + 1) * sizeof (char *));
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
        sizes [i] = mem_strdup (text);
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

void
cli_print_stats (kmq_reply_t *reply)
{
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
