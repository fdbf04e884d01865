/*  kmq-broker — routes kernelmq clients to one kmq-kernel per session.
    Usage: kmq-broker [-c FILE] [--NAME VALUE]... (see --help)             */
#include <czmq.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "config.h"

int
main (int argc, char **argv)
{
    config_t *cfg = config_new ();
    char err [512];
    //  The host's settings too: the broker hands them to its local host
    if (config_load (cfg, CONFIG_BOTH, argc, argv, err, sizeof err)) {
        fprintf (stderr, "kmq-broker: %s\n", err);
        config_destroy (&cfg);
        return 2;
    }
    if (cfg->help || cfg->config_table) {
        if (cfg->help)
            config_print_help (CONFIG_BOTH, stdout);
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

    broker_t *broker = broker_new (cfg);
    if (!broker) {
        config_destroy (&cfg);
        zsys_shutdown ();
        return 1;
    }
    int rc = broker_run (broker);
    broker_destroy (&broker);
    config_destroy (&cfg);
    zsys_shutdown ();
    return rc ? 1 : 0;
}
