// Every user string that goes into an HTML body goes through this: text and attribute values alike
// (quotes included), so a username cannot open a tag, an attribute or an entity.
export const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string);
