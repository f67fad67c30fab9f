# Shared by chatserver, masterserver and testclient: stop-signal handling
# (POSIX file; a Windows port adds tl_signal_win.c) and packet helpers.
if(NOT TARGET tl_common)
  if(WIN32)
    set(TL_SIGNAL_SOURCE ${CMAKE_CURRENT_LIST_DIR}/tl_signal_win.c)
  else()
    set(TL_SIGNAL_SOURCE ${CMAKE_CURRENT_LIST_DIR}/tl_signal_posix.c)
  endif()
  add_library(tl_common STATIC
    ${TL_SIGNAL_SOURCE}
    ${CMAKE_CURRENT_LIST_DIR}/tl_pkt.c)
  target_include_directories(tl_common PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(tl_common PUBLIC netcore protocol)
endif()
# Server-to-server link auth (issue 13).  tl_s2s_key: the shared secret's
# file and the client side of the challenge-response, linked by the link
# servers and by the gameserver (server/CMakeLists.txt includes this file);
# tl_s2s: the link servers' side (chatserver, masterserver).
if(NOT TARGET tl_s2s)
  if(WIN32)
    set(TL_FILE_SOURCE ${CMAKE_CURRENT_LIST_DIR}/tl_file_win.c)
  else()
    set(TL_FILE_SOURCE ${CMAKE_CURRENT_LIST_DIR}/tl_file_posix.c)
  endif()
  add_library(tl_s2s_key STATIC ${CMAKE_CURRENT_LIST_DIR}/tl_s2s_key.c ${TL_FILE_SOURCE})
  target_include_directories(tl_s2s_key PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(tl_s2s_key PUBLIC netcore protocol protocol_auth)
  add_library(tl_s2s STATIC ${CMAKE_CURRENT_LIST_DIR}/tl_s2s.c)
  target_link_libraries(tl_s2s PUBLIC tl_s2s_key tl_common Threads::Threads)
endif()
