/*  jupyter_kernelspec — `kmq-jupyter install`: writes a Jupyter kernelspec
    (kernel.json and the logos) so frontends can start kmq-jupyter.

    Where, as `jupyter kernelspec install` puts it:
        --prefix DIR    DIR/share/jupyter/kernels/NAME
        --user          $JUPYTER_DATA_DIR, else $XDG_DATA_HOME/jupyter, else
                        ~/.local/share/jupyter, then kernels/NAME
        neither         /usr/local/share/jupyter/kernels/NAME
    kernel.json: argv [this executable's absolute path, "-f",
    "{connection_file}", "--endpoint", ENDPOINT (, "--session", S)],
    display_name "Python 3 (kernelmq sandbox)", language "python",
    interrupt_mode "message" (interrupts travel as messages, so they reach
    the sandbox through the broker).
*/
#ifndef JUPYTER_KERNELSPEC_H
#define JUPYTER_KERNELSPEC_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *name;           //  the kernelspec's directory name; default "kernelmq"
    const char *prefix;         //  --prefix DIR, or NULL
    bool user;                  //  --user
    const char *endpoint;       //  the broker the kernel connects to
    const char *session;        //  a shared session for every kernel, or NULL
    const char *executable;     //  absolute path of kmq-jupyter
} jupyter_kernelspec_t;

//  Writes the kernelspec. Returns the directory written (caller frees), or
//  NULL with error set.
char *jupyter_kernelspec_install (const jupyter_kernelspec_t *spec, char *error,
                                  size_t error_size);

extern const unsigned char jupyter_logo_32 [];
extern const size_t jupyter_logo_32_size;
extern const unsigned char jupyter_logo_64 [];
extern const size_t jupyter_logo_64_size;

#endif
