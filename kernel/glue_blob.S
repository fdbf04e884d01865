/*  The Python half of the executor (glue.py), compiled into kmq-kernel so an
    executor needs no file from the host once its sandbox hides the host.
    kmq_glue_py is NUL-terminated; kmq_glue_py_end points past the NUL.
    kmq_frame_py is common/kmq_frame.py, the frame format's codec, which the
    executor loads as module kmq_frame before the glue (NUL-terminated). */
    .section .rodata
    .global kmq_glue_py
    .type   kmq_glue_py, @object
kmq_glue_py:
    .incbin "glue.py"
    .byte   0
    .global kmq_glue_py_end
kmq_glue_py_end:
    .global kmq_frame_py
    .type   kmq_frame_py, @object
kmq_frame_py:
    .incbin "kmq_frame.py"
    .byte   0
    .section .note.GNU-stack,"",@progbits
