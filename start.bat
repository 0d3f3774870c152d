@echo off
rem Easel for Windows: installs what is missing, builds, then starts the server.
rem Usage: start.bat [--port N] [--host ADDR] [--models DIR] [--data DIR] [--no-browser]
setlocal
cd /d "%~dp0"

where node >nul 2>nul
if errorlevel 1 (
  echo Easel could not start: Node.js 20.19 or newer is needed. Install it from https://nodejs.org and run start.bat again.
  pause
  exit /b 1
)
node -e "const [a,b]=process.versions.node.split('.').map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)"
if errorlevel 1 (
  echo Easel could not start: Easel needs Node.js 20.19 or newer ^(https://nodejs.org^).
  pause
  exit /b 1
)

if not exist node_modules\.package-lock.json (
  echo.
  echo ==^> Installing dependencies ^(npm ci^)
  call npm ci --no-audit --no-fund
  if errorlevel 1 (
    echo Easel could not start: npm ci failed ^(see above^). Check your internet connection and run start.bat again.
    pause
    exit /b 1
  )
)

rem Rebuilding is quick; always doing it keeps the app in step with its sources.
echo.
echo ==^> Building
call npm run build
if errorlevel 1 (
  echo Easel could not start: the build failed ^(see above^).
  pause
  exit /b 1
)

echo.
echo ==^> Starting Easel
node server\dist\main.js %*
