# Makes the one object of libsoda.a: every object of the library linked into
# one relocatable file (ld -r), then every global symbol but the exported
# soda_* ones made local (objcopy), so a static link sees the same surface
# as the shared library's version script and nothing of ours (su_*, sbb_*,
# blake3_*) can clash with a program's own symbols.
# cmake -DOBJS="a.o|b.o" -DMAP=libsoda.map -DOUT=soda_all.o -DLD=ld -DOBJCOPY=objcopy -P staticlib.cmake
string(REPLACE "|" ";" OBJS "${OBJS}")
file(STRINGS "${MAP}" lines REGEX "^[ \t]+soda_[a-z0-9_]+;")
set(keep "")
foreach(l ${lines})
  string(REGEX REPLACE "[ \t;]" "" l "${l}")
  string(APPEND keep "${l}\n")
endforeach()
file(WRITE "${OUT}.keep" "${keep}")
execute_process(COMMAND ${LD} -r -o "${OUT}.tmp" ${OBJS} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ld -r failed (${rc})")
endif()
execute_process(COMMAND ${OBJCOPY} "--keep-global-symbols=${OUT}.keep" "${OUT}.tmp" "${OUT}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "objcopy failed (${rc})")
endif()
file(REMOVE "${OUT}.tmp")
