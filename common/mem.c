/*  mem — the out-of-memory policy (see mem.h). */
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
mem_oom (const char *what)
{
    const char *parts [] = { "E: out of memory allocating ", what? what: "memory",
                             "; aborting\n" };
    for (size_t i = 0; i < sizeof parts / sizeof parts [0]; i++) {
        ssize_t rc = write (STDERR_FILENO, parts [i], strlen (parts [i]));
        (void) rc;                  //  nothing left to do if stderr is gone
    }
    abort ();
}

char *
mem_strdup (const char *text)
{
    char *copy = strdup (text);
    if (!copy)
        mem_oom ("a string");
    return copy;
}

char *
mem_strndup (const char *text, size_t size)
{
    char *copy = strndup (text, size);
    if (!copy)
        mem_oom ("a string");
    return copy;
}

char *
mem_vsprintf (const char *format, va_list args)
{
    char *text = NULL;
    if (vasprintf (&text, format, args) < 0)
        mem_oom ("a formatted string");
    return text;
}

char *
mem_sprintf (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = mem_vsprintf (format, args);
    va_end (args);
    return text;
}

void *
mem_alloc (size_t size)
{
    void *memory = calloc (1, size? size: 1);
    if (!memory)
        mem_oom ("memory");
    return memory;
}

void
mem_strv_destroy (char ***strv_p)
{
    char **strv = *strv_p;
    if (!strv)
        return;
    for (char **item = strv; *item; item++)
        free (*item);
    free (strv);
    *strv_p = NULL;
}
