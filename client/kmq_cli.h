/*  kmq_cli — what the kmq command-line client's files share: exit codes,
    the SIGINT flag, reply and event printing, and the repl's entry point.
    Private to bin/kmq (kmq_cli.c: arguments and commands; kmq_cli_util.c:
    printing replies, events and saved displays; kmq_cli_repl.c: the repl).
*/
#ifndef KMQ_CLI_H
#define KMQ_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <czmq.h>
#include "kmq.h"

#define EXIT_PYTHON     1
#define EXIT_USAGE      2
#define EXIT_SERVICE    3

//  The one global: set by SIGINT, read by libkmq's wait loop and the repl.
extern volatile sig_atomic_t cli_interrupted;

//  What the event handler needs across the events and the reply of a request.
typedef struct {
    int last_stdout;                //  last byte written to stdout, or -1
    bool evicted;                   //  attach: the session is gone
    const char *save_dir;           //  --save-display DIR, or NULL
    size_t saved;                   //  rich outputs of this cell so far (n)
    zlist_t *pending;               //  display files waiting for their name
    bool save_failed;               //  a rich output could not be written
} cli_output_t;

//  Sets up an output (save_dir may be NULL) and frees what it holds.
void cli_output_init (cli_output_t *output, const char *save_dir);
void cli_output_destroy (cli_output_t *output);

//  "kmq: <message>; try kmq --help" on stderr, then exit (EXIT_USAGE).
void cli_usage_error (const char *format, ...)
    __attribute__ ((format (printf, 1, 2), noreturn));

//  One line "kmq: NAME: message (extra)" on stderr; returns EXIT_SERVICE.
int cli_service_error (const char *name, const char *message, const char *extra);

//  Reads a whole file ("-" is stdin) into a new NUL-terminated buffer;
//  NULL with errno set.
char *cli_read_file (const char *path, size_t *size);

//  Prints the state-lost note and the error of a reply, if any. Returns
//  the exit status for it (0 when ok).
int cli_report (kmq_reply_t *reply);

//  The event handler (arg is a cli_output_t): streams to stdout/stderr,
//  a display's text/plain to stdout (its rich parts saved when save_dir is
//  set), notes on truncation and eviction.
void cli_on_event (const kmq_event_t *event, void *arg);

//  Ends an execute: reports the reply, names and announces the saved
//  display files, prints the result's text/plain after prefix and saves
//  its rich parts. Returns the exit status. Resets output for the next cell.
int cli_print_result (kmq_reply_t *reply, const char *prefix, cli_output_t *output);

//  The tables of `kmq vars` and `kmq stats` on stdout, from ok replies.
void cli_print_vars (kmq_reply_t *reply);
void cli_print_stats (kmq_reply_t *reply);

//  Creates DIR for --save-display if missing; 0, or -1 with a message
//  printed.
int cli_prepare_save_dir (const char *dir);

//  The interactive loop of `kmq repl`. Returns the exit status.
int cli_repl (kmq_t *kmq, const char *session, const char *save_dir);

#endif
