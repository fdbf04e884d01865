/*  host_ids — the executors' outside id range, checked (see host_ids.h). */
#include "host_ids.h"
#include "selftest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Whether [base, base + count) overlaps an allocation "name:start:count"
//  in path; the first one into what.
static bool
s_overlaps (const char *path, uint64_t base, uint64_t count, char *what, size_t size)
{
    FILE *file = fopen (path, "re");
    if (!file)
        return false;
    char line [512];
    bool found = false;
    while (!found && fgets (line, sizeof line, file)) {
        char *start = strchr (line, ':');
        char *length = start? strchr (start + 1, ':'): NULL;
        if (!length)
            continue;
        uint64_t first = strtoull (start + 1, NULL, 10);
        uint64_t many = strtoull (length + 1, NULL, 10);
        if (first < base + count && base < first + many) {
            line [strcspn (line, "\n")] = 0;
            snprintf (what, size, "%s line '%s'", path, line);
            found = true;
        }
    }
    fclose (file);
    return found;
}

int
host_ids_check (uint64_t base, uint64_t count, const char *pid_max_path,
                const char *const subid_paths [], char *why, size_t why_size)
{
    FILE *file = fopen (pid_max_path, "re");
    unsigned long long pid_max = 0;
    if (file) {
        if (fscanf (file, "%llu", &pid_max) != 1)
            pid_max = 0;
        fclose (file);
    }
    if (pid_max == 0)
        pid_max = 4194304;          //  unknown: the largest Linux allows
    if (count < pid_max) {
        snprintf (why, why_size, "executor_uid_count %" PRIu64 " is below the kernel's "
                  "pid_max %llu: two live executors could share an outside uid; raise "
                  "it to %llu or more", count, pid_max, pid_max);
        return -1;
    }
    for (size_t i = 0; subid_paths [i]; i++) {
        char what [600];
        if (s_overlaps (subid_paths [i], base, count, what, sizeof what)) {
            snprintf (why, why_size, "executor uids %" PRIu64 "..%" PRIu64 " overlap %s: "
                      "executors would share ids with that user's namespaces; move "
                      "executor_uid_base", base, base + count - 1, what);
            return -1;
        }
    }
    return 0;
}

void
host_ids_test (bool verbose)
{
    (void) verbose;
    char dir [] = "/tmp/kmq-host-ids-test-XXXXXX";
    SELFTEST_CHECK (mkdtemp (dir));
    char pid_max [64], subuid [64];
    snprintf (pid_max, sizeof pid_max, "%s/pid_max", dir);
    snprintf (subuid, sizeof subuid, "%s/subuid", dir);
    FILE *file = fopen (pid_max, "w");
    SELFTEST_CHECK (file);
    fprintf (file, "32768\n");
    fclose (file);
    file = fopen (subuid, "w");
    SELFTEST_CHECK (file);
    fprintf (file, "alice:100000:65536\nbob:2147483648:65536\n");
    fclose (file);
    const char *none [] = { NULL };
    const char *both [] = { subuid, "/nonexistent/subgid", NULL };
    char why [512];
    //  The defaults pass where nobody holds ids up there
    SELFTEST_CHECK (host_ids_check (1ull << 31, 1ull << 22, pid_max, none, why,
                                    sizeof why) == 0);
    //  Fewer ids than pids: refused
    SELFTEST_CHECK (host_ids_check (1ull << 31, 32767, pid_max, none, why,
                                    sizeof why) == -1 && strstr (why, "pid_max 32768"));
    SELFTEST_CHECK (host_ids_check (1ull << 31, 32768, pid_max, none, why,
                                    sizeof why) == 0);
    //  An allocation in the range, or straddling its start: refused
    SELFTEST_CHECK (host_ids_check (1ull << 31, 1ull << 22, pid_max, both, why,
                                    sizeof why) == -1 && strstr (why, "bob:2147483648"));
    SELFTEST_CHECK (host_ids_check (150000, 40000, pid_max, both, why, sizeof why) == -1
                 && strstr (why, "alice"));
    SELFTEST_CHECK (host_ids_check (165536, 40000, pid_max, both, why, sizeof why) == 0);
    //  An unreadable pid_max counts as the largest possible
    SELFTEST_CHECK (host_ids_check (1ull << 31, 65536, "/nonexistent", none, why,
                                    sizeof why) == -1);
    unlink (pid_max);
    unlink (subuid);
    rmdir (dir);
}
