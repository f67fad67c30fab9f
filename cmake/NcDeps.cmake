# System dependencies.  A missing one stops configure and names the Debian
# package that provides it (the set-up step installs them all).
find_package(PkgConfig)
find_package(Threads REQUIRED)

function(nc_require_pkg var module debpkg)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(${var} IMPORTED_TARGET ${module})
  endif()
  if(NOT ${var}_FOUND)
    message(FATAL_ERROR
      "${module} not found: install the Debian package '${debpkg}' "
      "(apt-get install ${debpkg}), or run tools/dev/setup.sh")
  endif()
endfunction()

# ---- Windows cross build (issue 7) ----------------------------------------
# With cmake/mingw-w64.cmake the system packages do not apply: the same
# target names are made from the static libraries that
# tools/dev/build_windows_deps.sh builds from Debian's source packages.
if(CMAKE_CROSSCOMPILING AND WIN32)
  set(NC_WIN_DEPS "${PROJECT_SOURCE_DIR}/build/win-deps/prefix" CACHE PATH
      "Prefix of the Windows builds of sqlite3, cJSON and cmocka")
  function(nc_win_dep target lib)
    if(NOT EXISTS "${NC_WIN_DEPS}/lib/lib${lib}.a")
      message(FATAL_ERROR "${NC_WIN_DEPS}/lib/lib${lib}.a not found: run "
              "tools/dev/build_windows_deps.sh ${NC_WIN_DEPS}")
    endif()
    add_library(${target} STATIC IMPORTED GLOBAL)
    set_target_properties(${target} PROPERTIES
      IMPORTED_LOCATION "${NC_WIN_DEPS}/lib/lib${lib}.a"
      INTERFACE_INCLUDE_DIRECTORIES "${NC_WIN_DEPS}/include;${NC_WIN_DEPS}/include/cjson")
  endfunction()
  nc_win_dep(PkgConfig::SQLITE3 sqlite3)
  nc_win_dep(PkgConfig::CJSON cjson)
  nc_win_dep(PkgConfig::CMOCKA cmocka)
  nc_win_dep(PkgConfig::SODIUM sodium)
  # libsodium's headers mark their symbols dllimport unless told the
  # library is static
  set_property(TARGET PkgConfig::SODIUM APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS SODIUM_STATIC)
  # its randombytes calls RtlGenRandom (SystemFunction036, advapi32); mingw
  # links advapi32 by default, named here so the dependency is explicit
  set_property(TARGET PkgConfig::SODIUM APPEND PROPERTY INTERFACE_LINK_LIBRARIES advapi32)
  # gcc's mingw target reads format(printf) as msvcrt's printf (no %zu),
  # while the build links mingw's C99 printf (__USE_MINGW_ANSI_STDIO, set
  # by the toolchain file): the check would be wrong, the Linux build does it.
  add_compile_options(-Wno-format)
  if(NC_POSTGRES)
    message(FATAL_ERROR "NC_POSTGRES: libpq is not cross-built for Windows; use -DNC_POSTGRES=OFF")
  endif()
  return()
endif()
# ---- end Windows cross build ----------------------------------------------

if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()
nc_require_pkg(SQLITE3 sqlite3 libsqlite3-dev)
nc_require_pkg(CJSON libcjson libcjson-dev)
nc_require_pkg(CMOCKA cmocka libcmocka-dev)
nc_require_pkg(SODIUM libsodium libsodium-dev)
if(NC_POSTGRES)
  nc_require_pkg(LIBPQ libpq libpq-dev)
endif()
