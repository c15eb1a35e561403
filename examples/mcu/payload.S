/* The download, placed in the PAYLOAD region (scripts/mcu-demo writes the files). */
    .section .payload, "a"
    .balign 4
    .global mcu_patch, mcu_patch_end, mcu_source, mcu_source_end, mcu_source_sha, mcu_target_sha
mcu_patch:
    .incbin "patch.ldp"
mcu_patch_end:
    .balign 4
mcu_source:
    .incbin "source.bin"
mcu_source_end:
    .balign 4
mcu_source_sha:
    .incbin "source.sha256"
mcu_target_sha:
    .incbin "target.sha256"
