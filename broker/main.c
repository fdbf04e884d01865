/*  kmq-broker — routes kernelmq clients to one kmq-kernel per session.
    Usage: kmq-broker [-c FILE] [--NAME VALUE]... (see --help)             */
#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "config.h"

static volatile sig_atomic_t s_stop = 0;

static void
s_on_stop (int sig)
{
    (void) sig;
    s_stop = 1;
}

//  Only interrupts zmq_poll, so exited kernels are reaped at once.
static void
s_on_child (int sig)
{
    (void) sig;
}

static void
s_signals (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    sigemptyset (&action.sa_mask);
    action.sa_handler = s_on_stop;
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    action.sa_handler = s_on_child;
    action.sa_flags = SA_NOCLDSTOP;
    sigaction (SIGCHLD, &action, NULL);
    action.sa_handler = SIG_IGN;
    action.sa_flags = 0;
    sigaction (SIGPIPE, &action, NULL);
}

int
main (int argc, char **argv)
{
    config_t *cfg = config_new ();
    char err [512];
    if (config_load (cfg, argc, argv, err, sizeof err)) {
        fprintf (stderr, "kmq-broker: %s\n", err);
        config_destroy (&cfg);
        return 2;
    }
    if (cfg->help || cfg->config_table) {
        if (cfg->help)
            config_print_help (stdout);
        else
            config_print_markdown (stdout);
        config_destroy (&cfg);
        return 0;
    }
    //  Our own handlers: czmq's would make blocking calls fail mid-loop
    zsys_handler_set (NULL);
    zsys_init ();
    zsys_set_logstream (stderr);
    zsys_set_logident ("kmq-broker");
    s_signals ();

    broker_t *broker = broker_new (cfg);
    if (!broker) {
        config_destroy (&cfg);
        zsys_shutdown ();
        return 1;
    }
    int rc = broker_run (broker, &s_stop);
    zsys_info ("kmq-broker: %s", s_stop ? "stopping on signal" : "stopping after an error");
    broker_destroy (&broker);
    config_destroy (&cfg);
    zsys_shutdown ();
    return rc ? 1 : 0;
}
