/*  clients — what the broker remembers of the clients on its frontend.

    A client is known by its routing id. The broker keeps the label each
    gave in hello (protocol.md 4.5: it names the requester to the other
    clients of a shared session) and the `detached` notices it owes to
    clients it detached because they fell behind, until their queue takes
    a message again.

    Bounded: at most max_clients labels (the oldest forgotten first, so
    clients that vanish without a word cannot pile up) and at most
    max_clients notices. Pure data, no sockets: the broker sends.
*/
#ifndef KMQ_CLIENTS_H
#define KMQ_CLIENTS_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  Bytes of a label at most; longer labels are cut (protocol.md, hello).
#define CLIENTS_LABEL_MAX 64

typedef struct _clients_t clients_t;

//  A notice owed to a client (see clients_notice_next).
typedef struct {
    zframe_t *client;               //  routing id, owned by the table
    char session [129];
    int64_t give_up;                //  drop it after this time
} clients_notice_t;

//  Creates an empty table of at most max_clients entries (> 0).
clients_t *clients_new (size_t max_clients);
//  Destroys the table. No-op on NULL.
void clients_destroy (clients_t **self_p);

//  Remembers client's label (copied; cut to CLIENTS_LABEL_MAX bytes and to
//  printable ASCII; NULL or "" is "anonymous").
void clients_set_label (clients_t *self, zframe_t *client, const char *label);
//  The label of client, "anonymous" when it never gave one. Borrowed: valid
//  until the next change to the table.
const char *clients_label (clients_t *self, zframe_t *client);

//  Owes client a `detached` notice for session until give_up.
void clients_owe_notice (clients_t *self, zframe_t *client, const char *session,
                         int64_t give_up);
//  The notices owed, oldest first, for the caller to try to send: iterate
//  with first/next; remove the current one once sent or given up.
clients_notice_t *clients_notice_first (clients_t *self);
clients_notice_t *clients_notice_next (clients_t *self);
void clients_notice_remove_current (clients_t *self);
size_t clients_notices (clients_t *self);

//  Selftest.
void clients_test (bool verbose);

#endif
