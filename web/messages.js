// A card's status line and error box: the file card (app.js) and the live card (live.js) each have one.

/**
 * @param {{ status: HTMLElement, error: HTMLElement }} els
 * @returns {{ setStatus: (text: string) => void, showError: (text: string) => void, hideError: () => void }}
 */
export function messages(els) {
  return {
    setStatus(text) {
      els.status.textContent = text;
    },
    showError(text) {
      els.error.textContent = text;
      els.error.hidden = false;
    },
    hideError() {
      els.error.hidden = true;
      els.error.textContent = '';
    },
  };
}
