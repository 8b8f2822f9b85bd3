<#
.SYNOPSIS
Shade installer for Windows. Run it from a Shade download (a clone or an unpacked release):

    powershell -ExecutionPolicy Bypass -File installers\windows\install.ps1

.DESCRIPTION
Makes a private Python environment, installs Shade there with the PyTorch build that
suits this machine, then runs `shade install`, which starts Shade at logon (a scheduled
task that restarts it if it crashes) and registers it with your browsers (per-user
registry keys). Nothing outside your user profile is changed; no administrator rights.

Environment overrides:
  SHADE_TORCH        the torch requirement to install (default: torch)
  SHADE_TORCH_INDEX  the wheel index for torch (default: the PyTorch CUDA index when
                     nvidia-smi works, because PyPI's Windows build is CPU-only; else PyPI)
  SHADE_VENV         where the environment goes (default: %LOCALAPPDATA%\Shade-venv)
  PYTHON             the Python 3.10+ to build the environment with (default: py -3, then python)

.PARAMETER DryRun
Say what would be done; change nothing.

.PARAMETER Uninstall
Undo everything this script did.

.PARAMETER ShadeArgs
Passed to `shade install`, e.g. --no-autostart --no-browsers --model-dir D:\models
#>
param(
    [switch]$DryRun,
    [switch]$Uninstall,
    [Parameter(ValueFromRemainingArguments = $true)][string[]]$ShadeArgs = @()
)

$ErrorActionPreference = "Stop"
$Src = (Resolve-Path (Join-Path $PSScriptRoot "..\..")).Path
$Venv = if ($env:SHADE_VENV) { $env:SHADE_VENV } else { Join-Path $env:LOCALAPPDATA "Shade-venv" }
$VenvPython = Join-Path $Venv "Scripts\python.exe"
$VenvShade = Join-Path $Venv "Scripts\shade.exe"
$CudaIndex = "https://download.pytorch.org/whl/cu126"

function Fail([string]$Message) {
    Write-Host "shade installer: $Message" -ForegroundColor Red
    exit 1
}

function Invoke-Checked([string]$Exe, [string[]]$Arguments) {
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { Fail "'$Exe $($Arguments -join ' ')' failed (exit $LASTEXITCODE)" }
}

function Find-Python {
    if ($env:PYTHON) { return @($env:PYTHON) }
    if (Get-Command py -ErrorAction SilentlyContinue) { return @("py", "-3") }
    if (Get-Command python -ErrorAction SilentlyContinue) { return @("python") }
    Fail "Python was not found. Install Python 3.10 or newer from python.org (tick 'Add to PATH'), or set PYTHON."
}

function Select-Torch {
    $spec = if ($env:SHADE_TORCH) { $env:SHADE_TORCH } else { "torch" }
    if ($env:SHADE_TORCH_INDEX) {
        return @{ Spec = $spec; Index = $env:SHADE_TORCH_INDEX; Why = "SHADE_TORCH_INDEX is set" }
    }
    $smi = Get-Command nvidia-smi -ErrorAction SilentlyContinue
    if ($smi) {
        & $smi.Source *> $null
        if ($LASTEXITCODE -eq 0) {
            return @{ Spec = $spec; Index = $CudaIndex; Why = "nvidia-smi found a working NVIDIA driver: the CUDA build, so Shade uses the GPU" }
        }
    }
    return @{ Spec = $spec; Index = ""; Why = "no working NVIDIA driver (nvidia-smi): PyPI's CPU build (shading works, more slowly)" }
}

if ($Uninstall) {
    if ($DryRun) {
        Write-Host "Would run: $VenvShade uninstall; remove $Venv"
        exit 0
    }
    if (Test-Path $VenvShade) {
        Write-Host "Removing what 'shade install' set up:"
        & $VenvShade uninstall
    }
    if (Test-Path (Join-Path $Venv "pyvenv.cfg")) {
        Remove-Item -Recurse -Force $Venv
        Write-Host "removed $Venv"
    }
    Write-Host "Shade is uninstalled. Your images, the Shade picture folders, settings and downloaded models were kept."
    exit 0
}

if (-not (Test-Path (Join-Path $Src "pyproject.toml"))) { Fail "run this script from a Shade download: $Src has no pyproject.toml" }
$torch = Select-Torch
if ($DryRun) {
    Write-Host "Shade installer (dry run: nothing is changed)"
    Write-Host "  environment:  $Venv"
    Write-Host "  torch:        $($torch.Spec) from $(if ($torch.Index) { $torch.Index } else { 'PyPI' })"
    Write-Host "                ($($torch.Why))"
    Write-Host "  Shade from:   $Src"
    Write-Host "  then:         shade install --extension-dir $Src\extension $($ShadeArgs -join ' ')"
    exit 0
}

$py = Find-Python
$pyExe = $py[0]
$pyArgs = @($py | Select-Object -Skip 1)
& $pyExe @pyArgs -c "import sys; sys.exit(sys.version_info < (3, 10))"
if ($LASTEXITCODE -ne 0) { Fail "Shade needs Python 3.10 or newer; install it from python.org or set PYTHON." }

Write-Host "Installing Shade into $Venv"
if (-not (Test-Path $VenvPython)) { Invoke-Checked $pyExe ($pyArgs + @("-m", "venv", $Venv)) }
Invoke-Checked $VenvPython @("-m", "pip", "install", "--quiet", "--upgrade", "pip")
Write-Host "PyTorch: $($torch.Spec) from $(if ($torch.Index) { $torch.Index } else { 'PyPI' }) ($($torch.Why))"
if ($torch.Index) {
    Invoke-Checked $VenvPython @("-m", "pip", "install", "--quiet", "--index-url", $torch.Index, $torch.Spec)
} else {
    Invoke-Checked $VenvPython @("-m", "pip", "install", "--quiet", $torch.Spec)
}
Invoke-Checked $VenvPython @("-m", "pip", "install", "--quiet", $Src)

Invoke-Checked $VenvShade (@("install", "--extension-dir", (Join-Path $Src "extension")) + $ShadeArgs)

Write-Host ""
Write-Host "Done. Shade is installed in $Venv."
Write-Host "Run Shade's commands as: $VenvShade (e.g. $VenvShade doctor)"
Write-Host "To undo all of it: powershell -ExecutionPolicy Bypass -File `"$PSCommandPath`" -Uninstall"
