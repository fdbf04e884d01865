/*  The Python that kmq-kernel carries, so an executor imports it without
    reading a file of the host once its sandbox hides them:
    kmq_embed_finder_py  kernel/embed_finder.py, NUL-terminated: executor.c
                         compiles and runs it first
    kmq_python_zip       the zip of every embedded module (the glue package
                         _kmq, and the Makefile's PY_EMBED list), built by
                         kernel/embed_zip.py; kmq_python_zip_end points
                         past its last byte.
    Assembled with -Ikernel and -I for the zip's folder (the Makefile). */
    .section .rodata
    .global kmq_embed_finder_py
    .type   kmq_embed_finder_py, @object
kmq_embed_finder_py:
    .incbin "embed_finder.py"
    .byte   0
    .balign 16
    .global kmq_python_zip
    .type   kmq_python_zip, @object
kmq_python_zip:
    .incbin "kmq_python.zip"
    .global kmq_python_zip_end
kmq_python_zip_end:
    .section .note.GNU-stack,"",@progbits
