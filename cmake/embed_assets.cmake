# Turns one web asset (cli/web/*) into a C file holding its bytes as an array plus its length:
#   cmake -DIN=app.css -DOUT=asset_app_css.c -DNAME=serve_asset_app_css -P embed_assets.cmake
# (no xxd needed). A NUL byte follows the data so that an empty asset is still a valid array.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# Break the list every 16 bytes to keep lines short.
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n" bytes "${bytes}")
set(body "/* Generated from ${IN} by cmake/embed_assets.cmake. Do not edit. */\n")
string(APPEND body "#include <stddef.h>\n\n")
string(APPEND body "extern const unsigned char ${NAME}[];\nextern const size_t ${NAME}_len;\n")
string(APPEND body "const unsigned char ${NAME}[] = {\n${bytes}0x00};\n")
string(APPEND body "const size_t ${NAME}_len = ${len};\n")
file(WRITE ${OUT}.tmp "${body}")
file(RENAME ${OUT}.tmp ${OUT})
