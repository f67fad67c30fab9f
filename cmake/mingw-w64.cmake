# Toolchain: cross-compile Windows x86-64 executables with Debian's mingw-w64
# (win32 thread model) and run them (tests, code generators) under Wine.
# Use: cmake -S . -B build/win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake
#            -DNC_WIN_DEPS=<prefix from tools/dev/build_windows_deps.sh>
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(NC_MINGW_TRIPLE x86_64-w64-mingw32)

set(CMAKE_C_COMPILER ${NC_MINGW_TRIPLE}-gcc)
set(CMAKE_RC_COMPILER ${NC_MINGW_TRIPLE}-windres)
set(CMAKE_AR ${NC_MINGW_TRIPLE}-ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${NC_MINGW_TRIPLE}-ranlib CACHE FILEPATH "")

set(CMAKE_FIND_ROOT_PATH /usr/${NC_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# C99 printf (%zu, %lld) instead of msvcrt's, and the few C11 functions the
# msvcrt runtime lacks (timespec_get): see win-compat/nc_mingw_compat.h.
set(CMAKE_C_FLAGS_INIT
    "-D__USE_MINGW_ANSI_STDIO=1 -include ${CMAKE_CURRENT_LIST_DIR}/win-compat/nc_mingw_compat.h")

# Self-contained .exe files: no libgcc/libwinpthread DLLs to ship or find.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

find_program(NC_WINE NAMES wine wine64)
if(NC_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${NC_WINE})
endif()
