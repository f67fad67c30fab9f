# Shared by chatserver, masterserver and testclient: stop-signal handling
# (POSIX file; a Windows port adds tl_signal_win.c) and packet helpers.
if(NOT TARGET tl_common)
  if(WIN32)
    set(TL_SIGNAL_SOURCE ${CMAKE_CURRENT_LIST_DIR}/tl_signal_win.c
                         ${CMAKE_CURRENT_LIST_DIR}/tl_tty_win.c)
  else()
    set(TL_SIGNAL_SOURCE ${CMAKE_CURRENT_LIST_DIR}/tl_signal_posix.c
                         ${CMAKE_CURRENT_LIST_DIR}/tl_tty_posix.c)
  endif()
  add_library(tl_common STATIC
    ${TL_SIGNAL_SOURCE}
    ${CMAKE_CURRENT_LIST_DIR}/tl_pkt.c)
  target_include_directories(tl_common PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(tl_common PUBLIC netcore protocol)
endif()
