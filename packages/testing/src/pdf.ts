// Reads a PDF back as a person would: the text of every page (pdfjs-dist).

export async function pdfText(pdf: Buffer | Uint8Array): Promise<{ pages: number; text: string; pageTexts: string[] }> {
  const { getDocument } = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const doc = await getDocument({ data: new Uint8Array(pdf), useSystemFonts: false, verbosity: 0 }).promise;
  const pageTexts: string[] = [];
  for (let n = 1; n <= doc.numPages; n++) {
    const content = await (await doc.getPage(n)).getTextContent();
    // pdf.js gives spaces as items of their own, and splits a word whose letters come from two
    // font subsets (Dvořák) into several items: join with nothing, end of line as a space.
    const text = content.items.map((item) => ('str' in item ? item.str + (item.hasEOL ? ' ' : '') : '')).join('');
    pageTexts.push(text.replace(/\s+/g, ' '));
  }
  const pages = doc.numPages;
  await doc.destroy();
  return { pages, text: pageTexts.join('\n'), pageTexts };
}
