/*  kmq-host — runs the kernels of a kmq-broker's sessions on this machine.
    Usage: kmq-host [-c FILE] [--NAME VALUE]... (see --help)

    Exit status: 0 after a stop (signal, the broker's shutdown, its silence
    past broker_grace_s) or when another host already serves the runtime
    dir; 1 when it could not start; 2 on bad usage.                         */
#include <czmq.h>
#include <stdio.h>

#include "config.h"
#include "host.h"

int
main (int argc, char **argv)
{
    config_t *cfg = NULL;
    int status = config_from_args (&cfg, CONFIG_HOST, "kmq-host", argc, argv);
    if (status >= 0)
        return status;
    //  Our own handlers (host.c's signal pipe), not czmq's
    zsys_handler_set (NULL);
    zsys_init ();
    zsys_set_logstream (stderr);
    zsys_set_logident ("kmq-host");
    bool already = false;
    host_t *host = host_new (cfg, &already);
    int rc = 0;
    if (host) {
        rc = host_run (host) == 0? 0: 1;
        zsys_info ("kmq-host %s: exiting", cfg->host_id);
        host_destroy (&host);
    }
    else
        rc = already? 0: 1;
    config_destroy (&cfg);
    zsys_shutdown ();
    return rc;
}
