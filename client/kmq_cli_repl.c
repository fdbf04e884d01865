/*  kmq_cli_repl — `kmq repl`: an IPython-like loop over one session, with
    libedit for line editing, in-memory history and TAB completion through
    the session's `complete`. A cell ends at a complete statement, or at a
    blank line after a block; Ctrl-C interrupts a running cell (libkmq sends
    the interrupt) or drops the cell being typed; Ctrl-D leaves.          */
#include <histedit.h>
#include <poll.h>
#include <wchar.h>
#include "kmq_cli.h"

typedef struct {
    kmq_t *kmq;
    const char *session;
    uint64_t count;                 //  number in the next "In [n]: "
    bool continuation;
    char prompt [48];
    zchunk_t *cell;                 //  the lines of the cell so far
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

//  libedit's character source: our own, so that Ctrl-C (cli_interrupted)
//  ends el_gets with EINTR at once and the line can be cleared.
static int
s_getc (EditLine *el, wchar_t *wc)
{
    (void) el;
    char bytes [MB_LEN_MAX];
    size_t used = 0;
    mbstate_t state;
    while (true) {
        if (cli_interrupted) {
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

//  --- TAB completion ---------------------------------------------------------

//  Appends the UTF-8 of wide characters [from, to) to out.
static void
s_append_wide (zchunk_t *out, const wchar_t *from, const wchar_t *to)
{
    mbstate_t state;
    memset (&state, 0, sizeof state);
    for (const wchar_t *wc = from; wc < to; wc++) {
        char bytes [MB_LEN_MAX];
        size_t len = wcrtomb (bytes, *wc, &state);
        if (len != (size_t) -1)
            zchunk_extend (out, bytes, len);
    }
}

//  Characters (not bytes) in len bytes of UTF-8.
static int
s_utf8_chars (const char *text, size_t len)
{
    int chars = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char) text [i] & 0xC0) != 0x80)
            chars++;
    return chars;
}

//  Bytes the matches share at their start, cut back to a character boundary.
static size_t
s_common_prefix (kmq_reply_t *reply, size_t count)
{
    const char *first = kmq_reply_match (reply, 0);
    size_t len = strlen (first);
    for (size_t i = 1; i < count; i++) {
        const char *other = kmq_reply_match (reply, i);
        size_t same = 0;
        while (same < len && other [same] == first [same])
            same++;
        len = same;
    }
    while (len && ((unsigned char) first [len] & 0xC0) == 0x80)
        len--;
    return len;
}

//  Lists the matches in columns under the line being edited.
static void
s_list_matches (EditLine *el, kmq_reply_t *reply, size_t count)
{
    size_t width = 0;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen (kmq_reply_match (reply, i));
        if (len > width)
            width = len;
    }
    int columns = 80;
    el_get (el, EL_GETTC, "co", &columns, NULL);
    size_t per_line = (size_t) columns / (width + 2);
    if (per_line == 0)
        per_line = 1;
    fputc ('\n', stdout);
    for (size_t i = 0; i < count; i++) {
        bool last = (i + 1) % per_line == 0 || i + 1 == count;
        printf ("%-*s%s", last? 0: (int) width + 2, kmq_reply_match (reply, i),
                last? "\n": "");
    }
    fflush (stdout);
}

//  TAB: asks the live session to complete the token before the cursor, in
//  the context of the cell typed so far. One match replaces the token;
//  several extend it by their common prefix, or are listed when it adds
//  nothing. On a blank line TAB indents.
static unsigned char
s_tab (EditLine *el, int ch)
{
    (void) ch;
    repl_t *repl = NULL;
    el_get (el, EL_CLIENTDATA, &repl);
    const LineInfoW *line = el_wline (el);
    bool blank = true;
    for (const wchar_t *wc = line->buffer; wc < line->cursor; wc++)
        if (*wc != L' ' && *wc != L'\t')
            blank = false;
    if (blank) {
        el_insertstr (el, "    ");
        return CC_REFRESH;
    }
    zchunk_t *code = zchunk_new (zchunk_data (repl->cell), zchunk_size (repl->cell));
    s_append_wide (code, line->buffer, line->cursor);
    size_t cursor = zchunk_size (code);
    s_append_wide (code, line->cursor, line->lastchar);
    kmq_reply_t *reply = kmq_complete (repl->kmq, repl->session,
                                       (const char *) zchunk_data (code),
                                       zchunk_size (code), cursor);
    cli_interrupted = 0;
    unsigned char result = CC_REFRESH_BEEP;
    size_t count = kmq_reply_ok (reply)? kmq_reply_match_count (reply): 0;
    uint64_t start = kmq_reply_uint (reply, "cursor_start", cursor);
    //  Only a span inside this line, ending at the cursor, can be replaced
    size_t line_start = zchunk_size (repl->cell);
    if (count > 0 && start >= line_start && start <= cursor
    &&  kmq_reply_uint (reply, "cursor_end", cursor) == cursor) {
        const char *typed = (const char *) zchunk_data (code) + start;
        size_t typed_len = cursor - (size_t) start;
        size_t common = s_common_prefix (reply, count);
        if (count == 1 || common > typed_len
        ||  (common == typed_len && memcmp (typed, kmq_reply_match (reply, 0),
                                            typed_len) != 0)) {
            char *text = strndup (kmq_reply_match (reply, 0),
                                  count == 1? strlen (kmq_reply_match (reply, 0)): common);
            el_deletestr (el, s_utf8_chars (typed, typed_len));
            el_insertstr (el, text);
            free (text);
            result = count == 1? CC_REFRESH: CC_REFRESH_BEEP;
        }
        else {
            s_list_matches (el, reply, count);
            result = CC_REDISPLAY;
        }
    }
    kmq_reply_destroy (&reply);
    zchunk_destroy (&code);
    return result;
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
s_repl_run (repl_t *repl, cli_output_t *output, const char *cell)
{
    kmq_reply_t *reply = kmq_execute (repl->kmq, repl->session, cell,
                                      strlen (cell), 0);
    cli_interrupted = 0;
    const char *error = kmq_reply_error (reply);
    if (error && streq (error, "INTERRUPTED"))
        fputc ('\n', stderr);      //  past the terminal's "^C"
    char prefix [48];
    snprintf (prefix, sizeof prefix, "Out[%" PRIu64 "]: ",
              kmq_reply_uint (reply, "execution_count", repl->count));
    cli_print_result (reply, prefix, output);
    if (kmq_reply_str (reply, "status"))            //  an answer from a kernel
        repl->count = kmq_reply_uint (reply, "execution_count", repl->count - 1) + 1;
    kmq_reply_destroy (&reply);
    if (output->last_stdout != -1 && output->last_stdout != '\n')
        fputc ('\n', stdout);
    output->last_stdout = -1;
    fflush (stdout);
}

int
cli_repl (kmq_t *kmq, const char *session, const char *save_dir)
{
    repl_t repl = { kmq, session, 1, false, "", NULL };
    cli_output_t output;
    cli_output_init (&output, save_dir);
    kmq_set_event_handler (kmq, cli_on_event, &output);
    EditLine *el = el_init ("kmq", stdin, stdout, stderr);
    History *history_ = history_init ();
    if (!el || !history_) {
        fprintf (stderr, "kmq: cannot start the line editor (is stdin usable?)\n");
        if (el)
            el_end (el);
        if (history_)
            history_end (history_);
        cli_output_destroy (&output);
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
    el_set (el, EL_ADDFN, "kmq-complete", "complete the name at the cursor",
            s_tab);
    el_set (el, EL_BIND, "^I", "kmq-complete", NULL);
    el_source (el, NULL);           //  the user's ~/.editrc, if any

    printf ("kmq repl: session %s on %s. A cell ends at a blank line;"
            " Ctrl-C interrupts, Ctrl-D leaves.\n", session, kmq_broker_name (kmq));
    zchunk_t *cell = zchunk_new (NULL, 256);
    repl.cell = cell;
    bool block = false;
    while (true) {
        repl.continuation = zchunk_size (cell) > 0;
        int count = 0;
        cli_interrupted = 0;
        const char *line = el_gets (el, &count);
        if (!line && count < 0 && cli_interrupted) {
            //  Ctrl-C at the prompt: drop the cell, new prompt
            cli_interrupted = 0;
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
            s_repl_run (&repl, &output, text);
            zchunk_set (cell, NULL, 0);
            block = false;
        }
        free (text);
    }
    zchunk_destroy (&cell);
    history_end (history_);
    el_end (el);
    cli_output_destroy (&output);
    return 0;
}

