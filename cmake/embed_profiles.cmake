# Turns profiles/*.yaml into a C file of {name, text} pairs: the built-in profiles.
set(body "/* Generated from the profiles/ YAML files by cmake/embed_profiles.cmake. Do not edit. */\n")
string(APPEND body "#include <stddef.h>\n\nconst char *const tp_builtin_profile_data[][2] = {\n")
string(REPLACE "|" ";" INPUTS "${INPUTS}")
foreach(f ${INPUTS})
  get_filename_component(name ${f} NAME_WE)
  file(READ ${f} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" esc "${hex}")
  # Break the literal every 64 bytes to keep lines short.
  string(REGEX REPLACE "((\\\\x[0-9a-f][0-9a-f]){64})" "\\1\"\n\"" esc "${esc}")
  string(APPEND body "    {\"${name}\",\n\"${esc}\"},\n")
endforeach()
string(APPEND body "    {NULL, NULL}};\n")
file(WRITE ${OUT} "${body}")
