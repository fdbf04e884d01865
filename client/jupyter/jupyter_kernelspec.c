/*  jupyter_kernelspec — writes kernel.json and the logos. See the header. */
#include <czmq.h>
#include <jansson.h>
#include "jupyter_kernelspec.h"
#include "mem.h"

#define S_DISPLAY_NAME "Python 3 (kernelmq sandbox)"

static char *
s_directory (const jupyter_kernelspec_t *spec)
{
    const char *name = spec->name? spec->name: "kernelmq";
    if (spec->prefix)
        return mem_sprintf ("%s/share/jupyter/kernels/%s", spec->prefix, name);
    if (!spec->user)
        return mem_sprintf ("/usr/local/share/jupyter/kernels/%s", name);
    const char *data = getenv ("JUPYTER_DATA_DIR");
    if (data && *data)
        return mem_sprintf ("%s/kernels/%s", data, name);
    const char *xdg = getenv ("XDG_DATA_HOME");
    if (xdg && *xdg)
        return mem_sprintf ("%s/jupyter/kernels/%s", xdg, name);
    const char *home = getenv ("HOME");
    return mem_sprintf ("%s/.local/share/jupyter/kernels/%s", home? home: ".", name);
}

static int
s_write (const char *directory, const char *file, const void *data, size_t size,
         char *error, size_t error_size)
{
    char *path = mem_sprintf ("%s/%s", directory, file);
    int rc = 0;
    FILE *out = fopen (path, "wb");
    if (!out)
        rc = -1;
    else {
        size_t written = fwrite (data, 1, size, out);
        if (fclose (out) != 0 || written != size)
            rc = -1;
    }
    if (rc != 0)
        snprintf (error, error_size, "cannot write %s: %s", path, strerror (errno));
    free (path);
    return rc;
}

char *
jupyter_kernelspec_install (const jupyter_kernelspec_t *spec, char *error,
                            size_t error_size)
{
    assert (spec && spec->endpoint && spec->executable);
    const char *name = spec->name? spec->name: "kernelmq";
    if (!*name || strchr (name, '/') || name [0] == '.') {
        snprintf (error, error_size, "invalid kernel name \"%.40s\": use letters,"
                  " digits, - . _", name);
        return NULL;
    }
    char *directory = s_directory (spec);
    char *text = NULL;
    json_t *argv = json_pack ("[s, s, s, s, s]", spec->executable, "-f",
                              "{connection_file}", "--endpoint", spec->endpoint);
    if (spec->session) {
        json_array_append_new (argv, json_string ("--session"));
        json_array_append_new (argv, json_string (spec->session));
    }
    json_t *kernel = json_pack ("{s:o, s:s, s:s, s:s, s:{s:s}}", "argv", argv,
                                "display_name", S_DISPLAY_NAME, "language", "python",
                                "interrupt_mode", "message", "metadata",
                                "kernelmq_endpoint", spec->endpoint);
    if (!kernel) {
        snprintf (error, error_size, "the endpoint or path is not valid UTF-8");
        goto fail;
    }
    if (zsys_dir_create ("%s", directory) != 0) {
        snprintf (error, error_size, "cannot create %s: %s", directory, strerror (errno));
        goto fail;
    }
    text = json_dumps (kernel, JSON_INDENT (2));
    if (!text
    ||  s_write (directory, "kernel.json", text, strlen (text), error, error_size)
    ||  s_write (directory, "logo-32x32.png", jupyter_logo_32, jupyter_logo_32_size,
                 error, error_size)
    ||  s_write (directory, "logo-64x64.png", jupyter_logo_64, jupyter_logo_64_size,
                 error, error_size))
        goto fail;
    free (text);
    json_decref (kernel);
    return directory;

fail:
    free (text);
    json_decref (kernel);
    free (directory);
    return NULL;
}
