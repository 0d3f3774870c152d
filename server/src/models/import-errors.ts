// Errors of imports and downloads as the API reports them: a stable code, a sentence the user can act on, and an
// HTTP status that says whose fault it is (a bad request 4xx; a full disk 507; a download source misbehaving 502).
import { AppError } from '../http/errors.js';
import type { ErrorInfo } from '../http/schemas.js';
import { UnsupportedModelError } from '../convert/import-checkpoint.js';
import { SafetensorsError } from '../convert/safetensors.js';
import { DownloadError, type DownloadErrorCode } from './download.js';
import { ImportError } from './import-host.js';

/** What a failed import reports (in its event and in GET /api/models/imports). */
export function importErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof AppError) return { code: error.code, message: error.message };
  if (error instanceof DownloadError || error instanceof ImportError) return { code: error.code, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof UnsupportedModelError) return { code: 'EASEL_ERR_MODEL_UNSUPPORTED', message };
  if (error instanceof SafetensorsError) return { code: 'EASEL_ERR_IMPORT_INVALID', message };
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return { code: 'EASEL_ERR_DISK_FULL', message: `the disk is full: ${message}` };
  return { code: 'EASEL_ERR_IMPORT', message };
}

const DOWNLOAD_STATUS: Record<DownloadErrorCode, number> = {
  EASEL_ERR_DOWNLOAD_BUSY: 409,
  EASEL_ERR_DOWNLOAD_ABORTED: 409,
  EASEL_ERR_DISK_FULL: 507,
  EASEL_ERR_DOWNLOAD_NOT_FOUND: 502,
  EASEL_ERR_DOWNLOAD_HTTP: 502,
  EASEL_ERR_DOWNLOAD_OFFLINE: 502,
  EASEL_ERR_DOWNLOAD_INTERRUPTED: 502,
  EASEL_ERR_DOWNLOAD_CHECKSUM: 502,
  EASEL_ERR_DOWNLOAD_SIZE: 502,
  // A local file problem (permissions, a bad catalog path): the server's, so a 5xx, but with the reason.
  EASEL_ERR_DOWNLOAD_IO: 500,
};

/** A DownloadError as an HTTP answer (never a bare 500). */
export function downloadAppError(error: DownloadError): AppError {
  return new AppError(DOWNLOAD_STATUS[error.code] ?? 502, error.code, error.message);
}
