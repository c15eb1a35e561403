/* The download, placed in the PAYLOAD region (scripts/mcu-demo writes the files). */
    .section .payload, "a"
    .balign 4
    .global mcu_patch, mcu_patch_end, mcu_header, mcu_header_end, mcu_source, mcu_source_end
mcu_patch:
    .incbin "patch.ldp"
mcu_patch_end:
    .balign 4
mcu_source:
    .incbin "source.bin"
mcu_source_end:
    .balign 4
mcu_header:
    .incbin "device.hdr"
mcu_header_end:
