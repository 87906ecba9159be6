import argon2 from 'argon2';

// argon2id with the library's defaults (64 MiB, t=3, p=4): about 50 ms a hash on this machine.
export const hashPassword = (password: string) => argon2.hash(password, { type: argon2.argon2id });

// Verified against when the email is unknown, so both failures cost the same time.
const DUMMY_HASH = argon2.hash('not-a-real-password', { type: argon2.argon2id });

export async function verifyPassword(hash: string | undefined, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash ?? (await DUMMY_HASH), password);
  } catch {
    return false;
  }
}
