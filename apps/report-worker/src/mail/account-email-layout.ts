// What the account emails share: the plain page they sit in (no images, no remote content, no
// tracking of any kind) and how their expiry is written. Each kind's wording is in its own file.
import { escapeHtml } from './escape-html.js';

export interface AccountEmailContext {
  /** The company name from config, shown as the sender in the header and footer. */
  companyName: string;
  /** Expiry times are written in this zone (REPORT_TIMEZONE). */
  timeZone: string;
}

export interface ComposedEmail {
  subject: string;
  text: string;
  html: string;
}

/** "November 25, 2026 at 10:15 PM UTC". */
export function formatExpiry(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat('en-US', {
    year: 'numeric',
    month: 'long',
    day: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
    timeZone,
    timeZoneName: 'short',
  }).format(new Date(iso));
}

/** How long the link or code was given when it was queued: "10 minutes", "24 hours". */
export function validityOf(mail: { queuedAt: string; expiresAt: string }): string {
  const minutes = Math.max(1, Math.round((Date.parse(mail.expiresAt) - Date.parse(mail.queuedAt)) / 60_000));
  if (minutes % 60 === 0) return minutes === 60 ? '1 hour' : `${minutes / 60} hours`;
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

/** The HTML page around a body whose every user string the caller has escaped. */
export function accountEmailHtml(title: string, companyName: string, bodyHtml: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title></head>
<body style="margin:0;padding:0;background:#f4f5f7;font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#1f2328;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f5f7;padding:16px 0;"><tr><td align="center">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:600px;background:#ffffff;border-radius:8px;overflow:hidden;">
<tr><td style="background:#1e3a5f;color:#ffffff;padding:20px 24px;font-size:18px;font-weight:bold;">${escapeHtml(companyName)}</td></tr>
<tr><td style="padding:24px;font-size:15px;line-height:1.5;">
${bodyHtml}
</td></tr>
<tr><td style="padding:16px 24px;background:#f6f8fa;font-size:12px;color:#666;">${escapeHtml(companyName)} · this email was sent because of an action on your account.</td></tr>
</table></td></tr></table></body></html>`;
}
