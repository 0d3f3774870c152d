# Fetches an official Node.js build into .runtime\ for start.bat: for Easel only, no admin rights, nothing
# system-wide. Picks the newest LTS release of Node 20 (from 20.19) or 22 from the mirror's index.json, downloads
# the zip (resuming an earlier partial download), checks it against SHASUMS256.txt, and unpacks it beside its
# final place before renaming it there, so a half-unpacked folder is never taken for an installed Node.js.
$ErrorActionPreference = 'Stop'
# Invoke-WebRequest's own progress bar slows downloads to a crawl in Windows PowerShell 5; curl.exe draws one.
$ProgressPreference = 'SilentlyContinue'
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12

function Step($text) { Write-Host ''; Write-Host "==> $text" }
function Say($text) { Write-Host "    $text" }
function Fail($text) { Write-Host ''; Write-Host "Easel could not start: $text"; exit 1 }

$app = Split-Path -Parent $PSScriptRoot
$runtime = Join-Path $app '.runtime'
$downloads = Join-Path $runtime 'downloads'
$attempts = 3
$mirror = if ($env:EASEL_NODE_MIRROR) { $env:EASEL_NODE_MIRROR.TrimEnd('/') } else { 'https://nodejs.org/dist' }
# A 32-bit PowerShell on 64-bit Windows reports x86 here and the real CPU in PROCESSOR_ARCHITEW6432.
$machine = if ($env:PROCESSOR_ARCHITEW6432) { $env:PROCESSOR_ARCHITEW6432 } else { $env:PROCESSOR_ARCHITECTURE }
switch ($machine) {
  'AMD64' { $arch = 'x64' }
  'ARM64' { $arch = 'arm64' }
  'x86' { $arch = 'x86' }
  default { Fail "there is no official Node.js build for this CPU ($machine). Install Node.js 20.19+ from https://nodejs.org and run start.bat again." }
}
# curl.exe ships with Windows 10 1803 and later; it resumes and shows progress. Invoke-WebRequest does neither.
$curl = Get-Command curl.exe -ErrorAction SilentlyContinue

function Fetch($url, $dest, [switch]$Resume) {
  if ($curl) {
    $curlArgs = if ($Resume) { @('-fL', '--progress-bar', '-C', '-', '-o', $dest, $url) } else { @('-fsSL', '-o', $dest, $url) }
    & $curl.Source @curlArgs | Out-Host
    return ($LASTEXITCODE -eq 0)
  }
  try {
    Invoke-WebRequest -Uri $url -OutFile $dest -UseBasicParsing
    return $true
  } catch {
    Say $_.Exception.Message
    return $false
  }
}

function Sha256($path) { (Get-FileHash -Algorithm SHA256 -LiteralPath $path).Hash.ToLowerInvariant() }

Step 'Fetching Node.js into .runtime\ (for Easel only: nothing is installed system-wide)'
New-Item -ItemType Directory -Force -Path $downloads | Out-Null
$key = "win-$arch-zip"
$version = $env:EASEL_NODE_VERSION
if (-not $version) {
  Say "Looking up the current Node.js LTS release at $mirror"
  $indexFile = Join-Path $downloads 'index.json'
  if (-not (Fetch "$mirror/index.json" $indexFile)) { Fail "could not reach $mirror. Check your internet connection (or EASEL_NODE_MIRROR) and run start.bat again." }
  $index = Get-Content -Raw -LiteralPath $indexFile | ConvertFrom-Json
  # Not Node 23+: onnxruntime-node mishandles float16 inputs there (see the onnx-pipeline reference, section 6.4).
  $pick = $index | ForEach-Object { $_ } | Where-Object {
    $v = [version]($_.version.TrimStart('v'))
    $_.lts -and ($_.files -contains $key) -and (($v.Major -eq 20 -and $v.Minor -ge 19) -or $v.Major -eq 22)
  } | Sort-Object { [version]($_.version.TrimStart('v')) } -Descending | Select-Object -First 1
  if (-not $pick) { Fail "$mirror lists no Node.js 20.19+ or 22 LTS release for win-$arch. Install Node.js yourself from https://nodejs.org and run start.bat again." }
  $version = $pick.version
}
$name = "node-$version-win-$arch"
$file = "$name.zip"
$sums = Join-Path $downloads "SHASUMS256-$version.txt"
$part = Join-Path $downloads "$file.part"

Say "Reading the published SHA-256 sums for $version"
if (-not (Fetch "$mirror/$version/SHASUMS256.txt" $sums)) { Fail "could not download $mirror/$version/SHASUMS256.txt. Check your internet connection and run start.bat again." }
$line = Get-Content -LiteralPath $sums | Where-Object { ($_ -split '\s+')[1] -eq $file } | Select-Object -First 1
if (-not $line) { Fail "$mirror/$version/SHASUMS256.txt does not list $file. Check EASEL_NODE_MIRROR and run start.bat again." }
$expected = ($line -split '\s+')[0].ToLowerInvariant()

if ((Test-Path -LiteralPath $part) -and ((Get-Item -LiteralPath $part).Length -gt 0) -and ((Sha256 $part) -eq $expected)) {
  Say "$file was already downloaded completely."
} else {
  if (Test-Path -LiteralPath $part) { Say "Resuming the earlier download of $file." }
  Step "Downloading $file from $mirror"
  for ($attempt = 1; ; $attempt++) {
    if (Fetch "$mirror/$version/$file" $part -Resume) { break }
    if ($attempt -ge $attempts) { Fail "the download of $file stopped before it finished (the part is kept in .runtime\downloads\). Check your internet connection and run start.bat again: it resumes where it stopped." }
    Say "The download stopped; resuming (attempt $($attempt + 1) of $attempts)."
    Start-Sleep -Seconds 1
  }
}

Step "Checking $file against its published SHA-256"
$got = Sha256 $part
if ($got -ne $expected) {
  # Resuming a corrupt file could never fix it, so it goes.
  Remove-Item -LiteralPath $part -Force
  Fail "$file does not match its published SHA-256 (expected $expected, got $got). The file was deleted and nothing was installed. Run start.bat again to download it afresh; if this happens again, the mirror ($mirror) or a proxy is serving a different file."
}
Say 'SHA-256 matches.'

Step "Unpacking into .runtime\$name"
# Expand-Archive insists on a .zip name.
$zip = Join-Path $downloads $file
Move-Item -LiteralPath $part -Destination $zip -Force
$unpacking = Join-Path $runtime 'unpacking'
if (Test-Path -LiteralPath $unpacking) { Remove-Item -LiteralPath $unpacking -Recurse -Force }
New-Item -ItemType Directory -Force -Path $unpacking | Out-Null
# Windows' own tar.exe (bsdtar) reads zip files far faster than Expand-Archive.
$tar = Get-Command tar.exe -ErrorAction SilentlyContinue
try {
  if ($tar) {
    & $tar.Source -xf $zip -C $unpacking | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "tar.exe exited with $LASTEXITCODE" }
  } else {
    Expand-Archive -LiteralPath $zip -DestinationPath $unpacking
  }
} catch {
  Fail "could not unpack $file ($($_.Exception.Message)). Free some disk space and run start.bat again."
}
& (Join-Path $unpacking "$name\node.exe") --version | Out-Null
if ($LASTEXITCODE -ne 0) { Fail "the downloaded Node.js does not run on this system. Install Node.js 20.19+ from https://nodejs.org and run start.bat again." }
$target = Join-Path $runtime $name
if (Test-Path -LiteralPath $target) { Remove-Item -LiteralPath $target -Recurse -Force }
Move-Item -LiteralPath (Join-Path $unpacking $name) -Destination $target
Remove-Item -LiteralPath $unpacking, $downloads -Recurse -Force
Say "Node.js $version is ready."
exit 0
