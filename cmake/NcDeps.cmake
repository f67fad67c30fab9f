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

if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()
nc_require_pkg(SQLITE3 sqlite3 libsqlite3-dev)
nc_require_pkg(CJSON libcjson libcjson-dev)
nc_require_pkg(CMOCKA cmocka libcmocka-dev)
