// The password rule of signup, password change and reset (NIST SP 800-63B §5.1.1.2): length is
// checked by PasswordSchema (8 to 128 characters, no composition rules) at the edge, and here a
// password that is one of the 10,000 most common ones is refused, whatever its letter case.
import { AppError } from '../errors.js';
import { COMMON_PASSWORDS } from './common-passwords.generated.js';

const common = new Set(COMMON_PASSWORDS);

export function isCommonPassword(password: string): boolean {
  return common.has(password.toLowerCase());
}

/** Throws the 400 a client shows next to the password field. */
export function assertPasswordAllowed(password: string, field = 'password'): void {
  if (isCommonPassword(password)) {
    throw new AppError(400, 'PASSWORD_TOO_COMMON', `This ${field} is one of the most common passwords; choose another`, [
      { path: `/${field}`, message: 'is one of the 10,000 most common passwords' },
    ]);
  }
}
