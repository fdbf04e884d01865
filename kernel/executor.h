/*  executor — the forked child that runs user Python (embedded CPython).

    The monitor calls executor_spawn; the child never returns from it. The
    child holds the session namespace and answers requests it reads from its
    socketpair (proto_stream framing, requests forwarded untouched from the
    broker). Its first message is ready, once Python is up. For each
    request it writes back, on the same socket, zero or
    more display events, then exactly one reply, all with the request's id
    and session (protocol.md 4.4).
    Its stdout and stderr are pipes read by the monitor, which turns them
    into stream events; the executor itself never builds stream events.
    Order (protocol.md 4.4): the executor flushes its output before each
    event and reply, and after each event waits for the monitor's `ack`;
    the monitor reads the pipes before forwarding each message. So every
    byte goes out on the right side of every event, with no waiting on
    timers.

    The executor has no ZeroMQ socket, no ZeroMQ context, and must be forked
    before the monitor creates one.
*/
#ifndef KMQ_EXECUTOR_H
#define KMQ_EXECUTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <stddef.h>
#include "kernel_contract.h"
#include "sandbox.h"

typedef struct {
    const char *session;        //  session key, for logs
    const char *work_dir;       //  cwd of the executor; created by the monitor
    sandbox_config_t sandbox;   //  the layers and limits (sandbox.h); every
                                //  executor runs inside them
    uint64_t max_payload;       //  largest frame accepted from the monitor
    //  kernel_contract_fingerprint of the settings the two above come
    //  from: the zygote gives an executor only to a monitor whose
    //  fingerprint is its own (executor_spawn_zygote sends it)
    const char *sandbox_fingerprint;
    const char *state_lost;     //  when non-NULL, the first reply carries
                                //  state_lost=true and notice=this text
} executor_config_t;

typedef struct {
    pid_t pid;                  //  the executor's host pid
    int sock;                   //  monitor's end of the request socketpair
    int out_fd;                 //  read end of the child's stdout pipe
    int err_fd;                 //  read end of the child's stderr pipe
    int pidfd;                  //  the executor's pidfd; -1 when forked here
                                //  (or the zygote could not make one)
    int super_fd;               //  the zygote connection (poll POLLIN: the
                                //  executor ended); -1 when forked here
    char spare [32];            //  the spare group (cgroup.h) the zygote
                                //  forked it in; "" when none
} executor_handle_t;

//  Fills *config from a kernel's settings (kernel_contract.h), the same
//  way in the monitor, the zygote and a fallback executor, so that all
//  three agree on the sandbox: its layers and limits, the fingerprint
//  (written into fingerprint, which config then borrows, as it borrows
//  the settings' strings), max_payload, session, work dir, state_lost.
//  In test builds (KMQ_SANDBOX_TEST_SWITCHES) KMQ_SANDBOX_SKIP switches
//  layers off, and the fingerprint says which.
void executor_config_from_settings (executor_config_t *config,
                                    const kernel_settings_t *settings,
                                    char *fingerprint, size_t fingerprint_size);

//  The program a monitor's fallback executor runs: kmq-executor (no
//  libpython in the monitor). fd is the binary, opened by the monitor:
//  the child execs it through the fd because, in its user namespace, it
//  is an unprivileged outside uid that may not reach the binary's
//  directory. args is the kernel contract's argv of the session
//  (kernel_contract_argv; args [0] is what ps shows).
typedef struct {
    int fd;
    char *const *args;
} executor_program_t;

//  Forks the executor into its sandbox's namespaces (sandbox_fork); the
//  child at once execs program with `--executor PARENT SOCK OUT ERR`
//  before args [1..] (its channels' fds, inherited), and kmq-executor then
//  goes through the same set-up as every executor (executor_child_fresh),
//  sandbox_enter and the seal included. In the parent returns 0 and fills
//  *handle (all fds close-on-exec, non-blocking), or -1 with errno set.
//  The child never returns: it runs requests until its socket closes,
//  then _exit(0).
int executor_spawn (const executor_config_t *config, const executor_program_t *program,
                    executor_handle_t *handle);

//  The same executor from the zygote listening on socket_path (zygote.h,
//  protocol.md section 10): a pool child or a fork of the loaded zygote,
//  sandboxed exactly as executor_spawn's. Fills *handle (pidfd and
//  super_fd set) and returns 0; or returns -1 with why (a sentence)
//  filled, having closed everything: the caller then forks with
//  executor_spawn. while_waiting (when not NULL) runs once the spawn is
//  sent, before the reply is awaited, so the caller's own start-up runs
//  while the zygote hands over (the monitor connects to the broker there).
int executor_spawn_zygote (const executor_config_t *config, const char *socket_path,
                           executor_handle_t *handle,
                           void (*while_waiting) (void *arg), void *arg,
                           char *why, size_t why_size);

//  Sends sig to the executor: through its pidfd, or, for a child forked
//  here (and not yet reaped), by pid. A zygote's executor without a pidfd
//  is never signalled (ESRCH): its pid could be reused. Returns 0 or -1
//  with errno set.
int executor_signal (executor_handle_t *handle, int sig);

//  Reaps the executor without blocking: waitpid for a child forked here;
//  for a zygote's, reads its `exited` event from super_fd. Returns 1 when
//  reaped, with *status the raw wait status (-1 when unknown: reaped
//  elsewhere, or the zygote went without telling), 0 when not yet.
int executor_reap (executor_handle_t *handle, int *status);

//  True when a zygote's executor has ended (its pidfd is readable), even
//  if the zygote's `exited` has not arrived; false when it runs or when
//  there is no pidfd (a child forked here: reap it instead).
bool executor_has_ended (executor_handle_t *handle);

#endif
