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
    //  The host's settings too: the broker hands them to its local host
    config_t *cfg = NULL;
    int status = config_from_args (&cfg, CONFIG_BOTH, "kmq-broker", argc, argv);
    if (status >= 0)
        return status;
    //  Our own handlers: czmq's would make blocking calls fail mid-loop
    zsys_handler_set (NULL);
    //  Two I/O threads: CURVE's encryption of the clients' traffic (tcp)
    //  runs beside the reading of the kernels' (backend), so a flood of
    //  output to attached clients does not hold the kernels' queue full
    zsys_set_io_threads (2);
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
