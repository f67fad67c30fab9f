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
# The login server's client side without I/O (tl_login.c): testclient and
# its tests.  Separate from tl_common so the servers do not link libsodium
# for it.
if(NOT TARGET tl_login)
  add_library(tl_login STATIC ${CMAKE_CURRENT_LIST_DIR}/tl_login.c)
  target_include_directories(tl_login PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(tl_login PUBLIC protocol protocol_auth Threads::Threads)
endif()
# Server-to-server link auth (issue 13).  tl_s2s_key: the link servers'
# secret flags (the file and the handshake's client side are protocol_auth's
# proto_s2s.c, which the gameserver links too); tl_s2s: the link servers'
# side (chatserver, masterserver).
if(NOT TARGET tl_s2s)
  add_library(tl_s2s_key STATIC ${CMAKE_CURRENT_LIST_DIR}/tl_s2s_key.c)
  target_include_directories(tl_s2s_key PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(tl_s2s_key PUBLIC netcore protocol protocol_auth)
  add_library(tl_s2s STATIC ${CMAKE_CURRENT_LIST_DIR}/tl_s2s.c)
  target_link_libraries(tl_s2s PUBLIC tl_s2s_key tl_common Threads::Threads)
endif()
