# Turns a file into a C source defining `const char NAME[]` (NUL-terminated) and
# `const unsigned long NAME_len`, so data files are compiled into faxd.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "/* generated from ${IN} */\nconst char ${NAME}[] = {${body}0x00};\nconst unsigned long ${NAME}_len = ${bytes};\n")
