@echo off
rem Easel for Windows. Finds Node.js 20.19+ (or fetches an official build into .runtime\), lets
rem installer\bootstrap.mjs install dependencies and build what is stale, then starts the server.
rem Usage: start.bat [--port N] [--host ADDR] [--models DIR] [--data DIR] [--no-browser]
rem        start.bat import <checkpoint.safetensors> [--config DIR] [--name NAME] [--fp16]   or   start.bat --download [<id>]
rem docs\INSTALL.md explains each step, the files it writes, and what to do when one fails.
rem Paths may hold spaces and parentheses ("C:\Program Files (x86)\..."), so no %VAR% holding a path is ever
rem expanded inside a ( ... ) block: a ")" in it would end the block early.
setlocal
cd /d "%~dp0"

echo.
echo ==^> Looking for Node.js 20.19 or newer
set "NODE="
call :find_node
if defined NODE goto :have_node
powershell -NoProfile -ExecutionPolicy Bypass -File "installer\fetch-node.ps1"
if errorlevel 1 goto :failed
call :find_node
if defined NODE goto :have_node
echo Easel could not start: Node.js was fetched but does not run. See docs\INSTALL.md.
goto :failed

:have_node
echo     Using Node.js at %NODE%
rem npm and the packages' install scripts must run on this same Node.js, not another one on PATH.
for %%F in ("%NODE%") do set "PATH=%%~dpF;%PATH%"

"%NODE%" installer\bootstrap.mjs
if errorlevel 1 goto :failed

echo ,%EASEL_INSTALL_DRY_RUN%,| findstr /c:",start," >nul
if not errorlevel 1 goto :models_tool
"%NODE%" server\dist\models\models-cli.js %*
exit /b %errorlevel%

:dry_start
rem "start.bat import <checkpoint> ..." and "start.bat --download <id>" run the model tool (docs\MODELS.md).
if /i "%~1"=="import" goto :models_tool
if /i "%~1"=="--download" goto :models_tool
echo.
echo ==^> Starting Easel
"%NODE%" server\dist\main.js %*
set "CODE=%errorlevel%"
rem Keep the window open after a crash, so a double-click user can read why.
if not "%CODE%"=="0" pause
exit /b %CODE%

:dry_start
echo.
echo (dry run) would start: %NODE% server\dist\main.js %*
exit /b 0

:failed
echo.
echo Run start.bat again once the problem above is fixed: it resumes where it stopped. Help: docs\INSTALL.md
pause
exit /b 1

rem Sets NODE to the first suitable Node.js: the copy in .runtime\ first (node_modules was installed with it, and
rem native modules follow its ABI), then the one on PATH.
:find_node
for /d %%D in (".runtime\node-v*-win-*") do if exist "%%~fD\node.exe" call :try_node "%%~fD\node.exe"
if defined NODE exit /b 0
for /f "delims=" %%N in ('where node 2^>nul') do call :try_node "%%N"
if not defined NODE echo     No suitable Node.js found.
exit /b 0

:try_node
if defined NODE exit /b 0
"%~1" -e "const [a,b]=process.versions.node.split('.').map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)" >nul 2>nul
if not errorlevel 1 goto :try_node_ok
echo     Node.js at "%~1" is too old or does not run: Easel needs 20.19 or newer.
exit /b 0
:try_node_ok
set "NODE=%~1"
exit /b 0
