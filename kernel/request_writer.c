/*  request_writer — writes one message on a helper thread (see request_writer.h).

    The thread publishes its result through rc and error, then sets done;
    the main thread reads them only after done or pthread_join, so done is
    the only field both threads touch at once.
*/
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "request_writer.h"
#include "proto_stream.h"

struct _request_writer_t {
    pthread_t thread;
    bool active;                    //  started and not joined yet
    atomic_bool done;               //  set by the thread when it returns
    int fd;
    int wake_fd;                    //  written when done, to wake the poll
    zmsg_t *msg;
    int rc;
    int error;
};

request_writer_t *
request_writer_new (void)
{
    request_writer_t *self = (request_writer_t *) zmalloc (sizeof (request_writer_t));
    assert (self);
    atomic_init (&self->done, false);
    return self;
}

static void *
s_writer_main (void *arg)
{
    request_writer_t *self = (request_writer_t *) arg;
    //  Signals are the main thread's business.
    sigset_t all;
    sigfillset (&all);
    pthread_sigmask (SIG_BLOCK, &all, NULL);
    self->rc = proto_stream_write (self->fd, &self->msg);
    self->error = errno;
    atomic_store (&self->done, true);
    char byte = 0;
    ssize_t rc = write (self->wake_fd, &byte, 1);
    (void) rc;                      //  a full pipe already wakes the poll
    return NULL;
}

int
request_writer_start (request_writer_t *self, int fd, int wake_fd, zmsg_t **msg_p)
{
    assert (self);
    assert (msg_p);
    assert (!self->active);
    self->fd = fd;
    self->wake_fd = wake_fd;
    self->msg = *msg_p;
    self->rc = 0;
    self->error = 0;
    atomic_store (&self->done, false);
    int rc = pthread_create (&self->thread, NULL, s_writer_main, self);
    if (rc) {
        self->msg = NULL;           //  still the caller's
        errno = rc;
        return -1;
    }
    *msg_p = NULL;
    self->active = true;
    return 0;
}

bool
request_writer_active (request_writer_t *self)
{
    assert (self);
    return self->active;
}

bool
request_writer_done (request_writer_t *self)
{
    assert (self);
    return self->active && atomic_load (&self->done);
}

int
request_writer_join (request_writer_t *self)
{
    assert (self);
    assert (self->active);
    pthread_join (self->thread, NULL);
    self->active = false;
    zmsg_destroy (&self->msg);      //  proto_stream_write cleared it already
    if (self->rc) {
        errno = self->error;
        return -1;
    }
    return 0;
}

void
request_writer_destroy (request_writer_t **self_p)
{
    assert (self_p);
    request_writer_t *self = *self_p;
    if (!self)
        return;
    if (self->active)
        request_writer_join (self);
    free (self);
    *self_p = NULL;
}
