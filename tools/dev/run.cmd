@echo off
rem Runs the local shard from a Windows build directory, like shard.sh on
rem Linux: masterserver (s2s 7000, player logins 7002) and chatserver (7001)
rem in the background of this console, then gameserver (7777, metrics 9177,
rem console 9178) in the foreground.  Each line of the three is written whole
rem (no interleaving); the servers tag their lines ([master], [chat], [gs]...).
rem
rem Usage:  tools\dev\run.cmd BUILD_DIR [gameserver args]
rem   e.g.  tools\dev\run.cmd build --metrics-port 9300
rem Ports: set MASTER_PORT, LOGIN_PORT, CHAT_PORT, GAME_PORT, ADMIN_PORT first.
rem
rem Ctrl+C stops all three (each gets the console's Ctrl+C: the game server
rem saves its players), then answer the "Terminate batch job" question.  If
rem the chat server or the master dies, the game server keeps running and
rem reconnects when you start it again (the command is printed at start).
rem
rem The first run creates the dev directory (DEV_DIR, default BUILD_DIR\dev)
rem as shard.sh does: s2s.secret, admin.secret, login.key, master.db with a
rem `dev` account of role gm whose random password is in dev.password, and
rem gameserver.json (auth.mode "dev", the login server's key, the secrets,
rem the database in DEV_DIR and the source tree's content\data\zones.json).
rem Later runs reuse it; delete the directory to start over.
rem (No "cmd || exit": Wine's cmd hangs on it; "if errorlevel" instead.)
setlocal EnableExtensions EnableDelayedExpansion
if "%~1"=="" (
  echo usage: run.cmd BUILD_DIR [gameserver args] 1>&2
  exit /b 2
)
set "BUILD=%~f1"
shift
set "GS_ARGS="
:args
if "%~1"=="" goto args_done
set "GS_ARGS=!GS_ARGS! %1"
shift
goto args
:args_done
if not defined MASTER_PORT set MASTER_PORT=7000
if not defined LOGIN_PORT set LOGIN_PORT=7002
if not defined CHAT_PORT set CHAT_PORT=7001
if not defined GAME_PORT set GAME_PORT=7777
if not defined ADMIN_PORT set ADMIN_PORT=9178
if not defined DEV_DIR set "DEV_DIR=%BUILD%\dev"
set "MASTER=%BUILD%\tools\masterserver\masterserver.exe"
set "CHAT=%BUILD%\tools\chatserver\chatserver.exe"
set "GAME=%BUILD%\server\gameserver.exe"
set "TC=%BUILD%\tools\testclient\testclient.exe"
for %%b in ("%MASTER%" "%CHAT%" "%GAME%") do (
  if not exist "%%~b" (
    echo run.cmd: %%~b not built ^(cmake --build BUILD_DIR --target gameserver chatserver masterserver testclient^) 1>&2
    exit /b 1
  )
)
for %%i in ("%~dp0..\..") do set "SRC=%%~fi"
set "ZONES=%SRC%\content\data\zones.json"
if not exist "%ZONES%" (
  echo run.cmd: %ZONES% not found ^(run.cmd runs from the source tree^) 1>&2
  exit /b 1
)

rem ---- the dev directory ----
if not exist "%DEV_DIR%" mkdir "%DEV_DIR%"
if errorlevel 1 exit /b 1
"%MASTER%" --new-secret "%DEV_DIR%\s2s.secret"
if errorlevel 1 exit /b 1
"%MASTER%" --new-secret "%DEV_DIR%\admin.secret"
if errorlevel 1 exit /b 1
set "SIGN_PK="
set "KX_PK="
for /f "usebackq tokens=1,2" %%a in (`call "%MASTER%" --show-keys --key-file "%DEV_DIR%\login.key"`) do (
  if "%%a"=="sign_pk" set "SIGN_PK=%%b"
  if "%%a"=="kx_pk" set "KX_PK=%%b"
)
if not defined SIGN_PK (
  echo run.cmd: masterserver --show-keys failed 1>&2
  exit /b 1
)
set "NEW_PW="
if not exist "%DEV_DIR%\dev.password" (
  if exist "%DEV_DIR%\dev.password.tmp" del "%DEV_DIR%\dev.password.tmp"
  "%MASTER%" --new-secret "%DEV_DIR%\dev.password.tmp"
  if errorlevel 1 exit /b 1
  "%MASTER%" --db "%DEV_DIR%\master.db" --key-file "%DEV_DIR%\login.key" --add-account dev --role gm < "%DEV_DIR%\dev.password.tmp" >nul
  if errorlevel 1 (
    echo run.cmd: cannot create the dev account ^(an old %DEV_DIR%\master.db? delete %DEV_DIR% to start over^) 1>&2
    exit /b 1
  )
  move /y "%DEV_DIR%\dev.password.tmp" "%DEV_DIR%\dev.password" >nul
  set NEW_PW=1
)
rem JSON strings: forward slashes (Windows accepts them; no escaping needed)
set "J=%DEV_DIR:\=/%"
set "JZ=%ZONES:\=/%"
rem (one redirection per line: Wine's cmd redirects only the first line of a block)
set "GJ=%DEV_DIR%\gameserver.json"
echo {> "%GJ%"
echo   "auth": {"mode": "dev", "login_public_key": "%SIGN_PK%"},>> "%GJ%"
echo   "links": {"secret_file": "%J%/s2s.secret"},>> "%GJ%"
echo   "admin": {"secret_file": "%J%/admin.secret", "port": %ADMIN_PORT%},>> "%GJ%"
echo   "database": {"path": "%J%/gameserver.db"},>> "%GJ%"
echo   "zones": {"file": "%JZ%"}>> "%GJ%"
echo }>> "%GJ%"

rem ---- the shard ----
set MASTER_CMD="%MASTER%" --port %MASTER_PORT% --login-port %LOGIN_PORT% --db "%DEV_DIR%\master.db" --key-file "%DEV_DIR%\login.key" --open-registration --secret-file "%DEV_DIR%\s2s.secret"
set CHAT_CMD="%CHAT%" --port %CHAT_PORT% --secret-file "%DEV_DIR%\s2s.secret"
start "master" /b !MASTER_CMD!
start "chat" /b !CHAT_CMD!
echo run.cmd: master :%MASTER_PORT% ^(player logins :%LOGIN_PORT%^), chat :%CHAT_PORT%, game :%GAME_PORT%. Ctrl+C stops all. Dev files: %DEV_DIR%
echo   name-only login ^(auth.mode dev^):  "%TC%" --port %GAME_PORT%     then: login NAME
echo   with an account:  "%TC%" --login 127.0.0.1:%LOGIN_PORT% --password-file "%DEV_DIR%\dev.password"
echo                     then: login dev    play NAME
echo   login server key ^(the client pins it on first use^): %KX_PK%
echo   operator's console: "%TC%" --admin 127.0.0.1:%ADMIN_PORT% --admin-secret-file "%DEV_DIR%\admin.secret" status
echo   shard table: "%MASTER%" --list 127.0.0.1:%MASTER_PORT% --secret-file "%DEV_DIR%\s2s.secret"
echo   restart a dead chat server: start "chat" /b !CHAT_CMD!
echo   restart a dead master:      start "master" /b !MASTER_CMD!
if defined NEW_PW (
  set /p PW=<"%DEV_DIR%\dev.password"
  echo   created account 'dev' ^(role gm^), password: !PW! ^(in %DEV_DIR%\dev.password^)
)
"%GAME%" --config "%DEV_DIR%\gameserver.json" --port %GAME_PORT% --master-port %MASTER_PORT% --chat-port %CHAT_PORT%%GS_ARGS%
set RC=%ERRORLEVEL%
echo run.cmd: gameserver exited ^(status %RC%^); master and chat are still running in this console: Ctrl+C stops them 1>&2
exit /b %RC%
