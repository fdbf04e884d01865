/*  cgroup_test — the selftest of cgroup (cgroup.h): mode names, instance
    names, group lists; and, when run where groups may be made (root with
    cgroup v1, or a delegated v2), a real child made, a process attached,
    killed and removed with it.
*/
#include "cgroup_internal.h"
#include "selftest.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_MIB (1024ull * 1024)

void
cgroup_test (bool verbose)
{
    bool automatic;
    cgroup_mode_t mode;
    SELFTEST_CHECK (cgroup_mode_parse ("auto", &automatic, &mode) == 0 && automatic);
    SELFTEST_CHECK (cgroup_mode_parse ("v1", &automatic, &mode) == 0 && !automatic
                 && mode == CGROUP_V1);
    SELFTEST_CHECK (cgroup_mode_parse ("v2", &automatic, &mode) == 0 && mode == CGROUP_V2);
    SELFTEST_CHECK (cgroup_mode_parse ("none", &automatic, &mode) == 0 && !automatic
                 && mode == CGROUP_NONE);
    SELFTEST_CHECK (cgroup_mode_parse ("v3", &automatic, &mode) == -1);

    //  Instances: ours is alive, a dead pid's or a reused pid's is not,
    //  and names that are no instance's are left alone
    char name [160];
    snprintf (name, sizeof name, "a.b.%d.%" PRIu64, (int) getpid (),
              cgroup_internal_start_time (getpid ()));
    SELFTEST_CHECK (cgroup_internal_instance_alive (name));
    snprintf (name, sizeof name, "local.%d.%" PRIu64, (int) getpid (),
              cgroup_internal_start_time (getpid ()) + 1);
    SELFTEST_CHECK (!cgroup_internal_instance_alive (name));
    SELFTEST_CHECK (!cgroup_internal_instance_alive ("local.2147483646.5"));
    SELFTEST_CHECK (cgroup_internal_instance_alive ("k1-0001"));
    SELFTEST_CHECK (cgroup_internal_instance_alive ("x.y"));
    SELFTEST_CHECK (cgroup_internal_instance_alive ("a.0.5"));
    SELFTEST_CHECK (cgroup_internal_instance_alive ("a.1.x"));
    SELFTEST_CHECK (cgroup_internal_name_valid ("k12-00ab"));
    SELFTEST_CHECK (!cgroup_internal_name_valid ("../x"));
    SELFTEST_CHECK (!cgroup_internal_name_valid (""));
    SELFTEST_CHECK (!cgroup_internal_name_valid ("a:b"));

    //  Group lists: empty ones are refused, missing dirs are no OOM
    char why [512];
    SELFTEST_CHECK (cgroup_attach ("", 1, why, sizeof why) == -1);
    uint64_t limit;
    bool own;
    SELFTEST_CHECK (!cgroup_oom ("/nonexistent/a:/nonexistent/b", &limit, &own));

    size_t cleaned;
    SELFTEST_CHECK (!cgroup_host_new ("none", "t", &cleaned, why, sizeof why)
                 && strstr (why, "cgroup = none"));
    SELFTEST_CHECK (!cgroup_host_new ("v7", "t", &cleaned, why, sizeof why));

    //  The real thing, where we may: a child with limits, a process in it
    cgroup_host_t *host = cgroup_host_new ("auto", "selftest", &cleaned, why, sizeof why);
    if (verbose)
        printf ("   %s\n", host? cgroup_host_describe (host): why);
    if (!host)
        return;
    cgroup_limits_t limits = { 64 * S_MIB, 32, 0.5 };
    char *list = cgroup_host_add (host, "k-test", &limits, why, sizeof why);
    SELFTEST_CHECK (list);
    SELFTEST_CHECK (!cgroup_host_add (host, "../x", &limits, why, sizeof why));
    char dir [CGROUP_PATH_MAX + 100], path [CGROUP_PATH_MAX + 140];
    SELFTEST_CHECK (cgroup_host_dir (host, "k-test", "memory", dir, sizeof dir) == 0);
    SELFTEST_CHECK (strstr (list, dir) && strstr (dir, "/kmq/selftest."));
    snprintf (path, sizeof path, "%s/%s", dir, cgroup_host_mode (host) == CGROUP_V2?
              "memory.max": "memory.limit_in_bytes");
    uint64_t value;
    SELFTEST_CHECK (cgroup_internal_number (path, &value) == 0 && value == 64 * S_MIB);
    pid_t child = fork ();
    if (child == 0) {
        pause ();
        _exit (0);
    }
    SELFTEST_CHECK (child > 0);
    SELFTEST_CHECK (cgroup_attach (list, child, why, sizeof why) == 0);
    snprintf (path, sizeof path, "%s/cgroup.procs", dir);
    char procs [256];
    SELFTEST_CHECK (cgroup_internal_read (path, procs, sizeof procs) == 0);
    SELFTEST_CHECK (atoi (procs) == child);
    uint64_t ns;
    SELFTEST_CHECK (cgroup_host_cpu_ns (host, "k-test", &ns) == 0);
    SELFTEST_CHECK (!cgroup_oom (list, &limit, &own) && limit == 64 * S_MIB);
    //  Removing the group kills what is left in it
    int status = 0;
    while (cgroup_host_remove (host, "k-test") && errno == EBUSY)
        waitpid (child, &status, WNOHANG);
    waitpid (child, &status, 0);
    SELFTEST_CHECK (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
    SELFTEST_CHECK (access (dir, F_OK) == -1);
    free (list);

    //  Spares (v1): made whole, entered by a process of its own accord (as
    //  the zygote does around a fork), then renamed to a kernel's group
    if (cgroup_host_mode (host) == CGROUP_V1) {
        SELFTEST_CHECK (cgroup_host_spares (host, 2, &limits, why, sizeof why) == 2);
        SELFTEST_CHECK (cgroup_host_spares (host, 2, &limits, why, sizeof why) == 0);
        char *parents = cgroup_host_parent_list (host);
        SELFTEST_CHECK (cgroup_spare_free (parents, "spare-1"));
        SELFTEST_CHECK (!cgroup_spare_free (parents, "spare-9"));
        int ready [2];
        SELFTEST_CHECK (pipe (ready) == 0);
        child = fork ();
        if (child == 0) {
            int rc = cgroup_enter_self (parents, "spare-1", why, sizeof why);
            if (write (ready [1], &rc, sizeof rc) != sizeof rc)
                _exit (1);
            pause ();
            _exit (0);
        }
        int entered = -1;
        SELFTEST_CHECK (read (ready [0], &entered, sizeof entered) == sizeof entered);
        SELFTEST_CHECK (entered == 0 && !cgroup_spare_free (parents, "spare-1"));
        close (ready [0]);
        close (ready [1]);
        list = cgroup_host_add (host, "k-spare", &limits, why, sizeof why);
        SELFTEST_CHECK (list);
        SELFTEST_CHECK (cgroup_adopt_spare (list, "../x", why, sizeof why) == -1);
        SELFTEST_CHECK (cgroup_adopt_spare (list, "spare-1", why, sizeof why) == 0);
        SELFTEST_CHECK (cgroup_host_dir (host, "k-spare", "memory", dir, sizeof dir) == 0);
        snprintf (path, sizeof path, "%s/cgroup.procs", dir);
        SELFTEST_CHECK (cgroup_internal_read (path, procs, sizeof procs) == 0);
        SELFTEST_CHECK (atoi (procs) == child);
        snprintf (path, sizeof path, "%s/memory.limit_in_bytes", dir);
        SELFTEST_CHECK (cgroup_internal_number (path, &value) == 0 && value == 64 * S_MIB);
        //  The renamed spare is made again
        SELFTEST_CHECK (cgroup_host_spares (host, 2, &limits, why, sizeof why) == 1);
        while (cgroup_host_remove (host, "k-spare") && errno == EBUSY)
            waitpid (child, &status, WNOHANG);
        waitpid (child, &status, 0);
        free (list);
        free (parents);
    }
    cgroup_host_destroy (&host);
    cgroup_host_destroy (&host);
}
