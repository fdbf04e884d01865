/*  kmq-jupyter — a Jupyter kernel (messaging protocol 5.3) whose Python
    runs in a sandboxed kernelmq session.

        kmq-jupyter -f CONNECTION_FILE [--endpoint E] [--session NAME] [-v]
        kmq-jupyter install [--user | --prefix DIR] [--endpoint E]
                            [--name NAME] [--session NAME]

    Exit status: 0 after a shutdown request or SIGTERM, 2 on a usage error,
    3 when the connection file or a socket cannot be used.                 */
#include <czmq.h>
#include <limits.h>
#include "jupyter_kernel.h"
#include "jupyter_kernelspec.h"

#define S_DEFAULT_ENDPOINT "tcp://127.0.0.1:5555"

static volatile sig_atomic_t s_stop = 0;

static void
s_on_term (int signum)
{
    (void) signum;
    s_stop = 1;
}

static const char *s_usage =
"usage:\n"
"  kmq-jupyter -f CONNECTION_FILE [--endpoint E] [--session NAME] [-v]\n"
"  kmq-jupyter install [--user | --prefix DIR] [--endpoint E] [--name NAME]\n"
"                      [--session NAME]\n"
"\n"
"A Jupyter kernel whose code runs in a sandboxed kernelmq session. Jupyter\n"
"frontends start it from the kernelspec that `install` writes (display name\n"
"\"Python 3 (kernelmq sandbox)\"). Each kernel gets a fresh session unless\n"
"--session names a shared one. The broker is E (default $KMQ_ENDPOINT, else\n"
S_DEFAULT_ENDPOINT "); start it with `make run`.\n";

static int
s_usage_error (const char *what)
{
    fprintf (stderr, "kmq-jupyter: %s\n%s", what, s_usage);
    return 2;
}

//  The absolute path of this executable, for kernel.json.
static char *
s_executable (const char *argv0)
{
    char path [PATH_MAX];
    ssize_t len = readlink ("/proc/self/exe", path, sizeof path - 1);
    if (len > 0) {
        path [len] = 0;
        return strdup (path);
    }
    return realpath (argv0, NULL);
}

static int
s_install (int argc, char **argv, const char *endpoint)
{
    jupyter_kernelspec_t spec = { .endpoint = endpoint };
    for (int i = 2; i < argc; i++) {
        const char *arg = argv [i];
        const char *value = i + 1 < argc? argv [i + 1]: NULL;
        if (streq (arg, "--user"))
            spec.user = true;
        else
        if (streq (arg, "--prefix") && value)
            spec.prefix = argv [++i];
        else
        if (streq (arg, "--endpoint") && value)
            spec.endpoint = argv [++i];
        else
        if (streq (arg, "--name") && value)
            spec.name = argv [++i];
        else
        if (streq (arg, "--session") && value)
            spec.session = argv [++i];
        else
            return s_usage_error ("install: unknown or incomplete option");
    }
    if (spec.user && spec.prefix)
        return s_usage_error ("install: --user and --prefix exclude each other");
    char *executable = s_executable (argv [0]);
    if (!executable) {
        fprintf (stderr, "kmq-jupyter: cannot find my own path: %s\n", strerror (errno));
        return 3;
    }
    spec.executable = executable;
    char error [512];
    char *directory = jupyter_kernelspec_install (&spec, error, sizeof error);
    free (executable);
    if (!directory) {
        fprintf (stderr, "kmq-jupyter: install: %s\n", error);
        return 3;
    }
    printf ("installed kernelspec %s in %s (broker %s)\n",
            spec.name? spec.name: "kernelmq", directory, spec.endpoint);
    free (directory);
    return 0;
}

int
main (int argc, char **argv)
{
    const char *endpoint = getenv ("KMQ_ENDPOINT");
    if (!endpoint || !*endpoint)
        endpoint = S_DEFAULT_ENDPOINT;
    if (argc > 1 && streq (argv [1], "install"))
        return s_install (argc, argv, endpoint);
    jupyter_kernel_config_t config = { .endpoint = endpoint };
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        const char *value = i + 1 < argc? argv [i + 1]: NULL;
        if ((streq (arg, "-f") || streq (arg, "--connection-file")) && value)
            config.connection_file = argv [++i];
        else
        if ((streq (arg, "-e") || streq (arg, "--endpoint")) && value)
            config.endpoint = argv [++i];
        else
        if (streq (arg, "--session") && value)
            config.session = argv [++i];
        else
        if (streq (arg, "-v") || streq (arg, "--verbose"))
            verbose = true;
        else
        if (streq (arg, "-h") || streq (arg, "--help")) {
            printf ("%s", s_usage);
            return 0;
        }
        else
            return s_usage_error ("unknown or incomplete option");
    }
    if (!config.connection_file)
        return s_usage_error ("-f CONNECTION_FILE is required");
    //  Interrupts come as interrupt_request messages (interrupt_mode
    //  message); a terminal's Ctrl-C is not ours. SIGTERM ends the kernel
    //  cleanly, closing its private session.
    zsys_handler_set (NULL);
    zsys_init ();
    zsys_set_logstream (stderr);     //  stdout is the frontend's terminal
    signal (SIGINT, SIG_IGN);
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_term;
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGHUP, &action, NULL);
    config.verbose = verbose;
    char error [512];
    jupyter_kernel_t *kernel = jupyter_kernel_new (&config, error, sizeof error);
    if (!kernel) {
        zsys_error ("kmq-jupyter: %s", error);
        return 3;
    }
    int status = jupyter_kernel_run (kernel, &s_stop);
    jupyter_kernel_destroy (&kernel);
    return status;
}
