/*  mem — kernelmq's one policy for running out of memory.

    Two kinds of allocation, two answers (the README's "Contributing"
    section states the same):

    - Bookkeeping: structs, copies of keys, names and notices, small fixed
      buffers. Their failure means the process itself is out of memory and
      nothing sensible can follow, so it logs one line naming what it was
      allocating and aborts. czmq's zmalloc does exactly this, so
      zmalloc'd memory needs no check either; these are the same policy
      for strings.
    - Sized by a peer: payloads, frames, readers' buffers, a reply's copy of
      a variable. These are bounded by limits before they are allocated,
      and a failure is an error answered to that peer (TOO_LARGE,
      INTERNAL, a MemoryError in the executor); the process goes on.

    Never `assert` an allocation: asserts vanish under NDEBUG and leave a
    NULL dereference behind. mem_oom writes with write(2) only: it must
    work in the zygote and executors, where zsys (which would start
    threads) is not used, and with the heap exhausted.
*/
#ifndef KMQ_MEM_H
#define KMQ_MEM_H

#include <stdarg.h>
#include <stddef.h>

//  Logs "out of memory allocating WHAT; aborting" to stderr and aborts.
void mem_oom (const char *what) __attribute__ ((noreturn));

//  strdup that aborts (mem_oom) instead of returning NULL.
char *mem_strdup (const char *text);

//  strndup likewise: at most size bytes of text, NUL-terminated.
char *mem_strndup (const char *text, size_t size);

//  A malloc'd formatted string; aborts instead of returning NULL.
char *mem_sprintf (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
char *mem_vsprintf (const char *format, va_list args);

//  A zeroed malloc of size bytes (calloc) that aborts instead.
void *mem_alloc (size_t size);

//  Frees a NULL-terminated array of malloc'd strings (an argv built for a
//  child process) and sets *strv_p to NULL. No-op on NULL.
void mem_strv_destroy (char ***strv_p);

#endif
