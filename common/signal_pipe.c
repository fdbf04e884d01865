/*  signal_pipe — signals as a readable fd (see signal_pipe.h).  */
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "signal_pipe.h"

//  The only global state: the signal flag and the self-pipe that makes a
//  signal wake zmq_poll without a race.
static volatile sig_atomic_t s_stop_signal = 0;
static int s_wake_fd = -1;

struct _signal_pipe_t {
    int pipe [2];                   //  read end, write end
    struct sigaction old_term, old_int, old_chld, old_pipe;
    bool handlers_set;
};

static void
s_signal_handler (int signum)
{
    int saved_errno = errno;
    if (signum == SIGTERM || signum == SIGINT)
        s_stop_signal = signum;
    if (s_wake_fd >= 0) {
        char byte = (char) signum;
        ssize_t rc = write (s_wake_fd, &byte, 1);
        (void) rc;                  //  a full pipe already wakes the poll
    }
    errno = saved_errno;
}

static int
s_set_handlers (signal_pipe_t *self)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_signal_handler;
    sigemptyset (&action.sa_mask);
    action.sa_flags = SA_NOCLDSTOP;
    if (sigaction (SIGTERM, &action, &self->old_term)
    ||  sigaction (SIGINT, &action, &self->old_int)
    ||  sigaction (SIGCHLD, &action, &self->old_chld))
        return -1;
    //  A write to a dead executor must fail with EPIPE, not kill us.
    struct sigaction ignore;
    memset (&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigemptyset (&ignore.sa_mask);
    if (sigaction (SIGPIPE, &ignore, &self->old_pipe))
        return -1;
    self->handlers_set = true;
    return 0;
}

static void
s_restore_handlers (signal_pipe_t *self)
{
    if (!self->handlers_set)
        return;
    sigaction (SIGTERM, &self->old_term, NULL);
    sigaction (SIGINT, &self->old_int, NULL);
    sigaction (SIGCHLD, &self->old_chld, NULL);
    sigaction (SIGPIPE, &self->old_pipe, NULL);
    self->handlers_set = false;
}

signal_pipe_t *
signal_pipe_new (const char *name)
{
    assert (name);
    signal_pipe_t *self = (signal_pipe_t *) zmalloc (sizeof (signal_pipe_t));
    self->pipe [0] = self->pipe [1] = -1;
    if (pipe2 (self->pipe, O_NONBLOCK | O_CLOEXEC)) {
        zsys_error ("%s: pipe2 for the signal pipe: %s", name, strerror (errno));
        goto fail;
    }
    s_wake_fd = self->pipe [1];
    if (s_set_handlers (self)) {
        zsys_error ("%s: sigaction: %s", name, strerror (errno));
        goto fail;
    }
    return self;

fail:
    signal_pipe_destroy (&self);
    return NULL;
}

int
signal_pipe_fd (signal_pipe_t *self)
{
    assert (self);
    return self->pipe [0];
}

void
signal_pipe_drain (signal_pipe_t *self)
{
    assert (self);
    char sink [64];
    while (read (self->pipe [0], sink, sizeof sink) > 0)
        ;
}

int
signal_pipe_stop_signal (signal_pipe_t *self)
{
    assert (self);
    return s_stop_signal;
}

void
signal_pipe_destroy (signal_pipe_t **self_p)
{
    assert (self_p);
    signal_pipe_t *self = *self_p;
    if (!self)
        return;
    s_restore_handlers (self);
    s_wake_fd = -1;
    for (int i = 0; i < 2; i++)
        if (self->pipe [i] >= 0)
            close (self->pipe [i]);
    free (self);
    *self_p = NULL;
}

//  --- selftest ------------------------------------------------------------

#include <poll.h>
#include "selftest.h"

void
signal_pipe_test (bool verbose)
{
    (void) verbose;
    signal_pipe_t *signals = signal_pipe_new ("signal_pipe_test");
    SELFTEST_CHECK (signals);
    SELFTEST_CHECK (signal_pipe_stop_signal (signals) == 0);
    //  A signal that lands before the poll still wakes it: the race a
    //  flag alone loses (the poll would sleep until its timeout).
    raise (SIGCHLD);
    struct pollfd item = { signal_pipe_fd (signals), POLLIN, 0 };
    SELFTEST_CHECK (poll (&item, 1, 5000) == 1);
    signal_pipe_drain (signals);
    SELFTEST_CHECK (poll (&item, 1, 0) == 0);
    SELFTEST_CHECK (signal_pipe_stop_signal (signals) == 0);
    raise (SIGTERM);
    SELFTEST_CHECK (poll (&item, 1, 5000) == 1);
    SELFTEST_CHECK (signal_pipe_stop_signal (signals) == SIGTERM);
    //  SIGPIPE is ignored while it lives
    raise (SIGPIPE);
    signal_pipe_destroy (&signals);
    signal_pipe_destroy (&signals);
    s_stop_signal = 0;
}
