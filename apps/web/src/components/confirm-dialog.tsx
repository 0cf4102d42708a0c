// A confirmation as a modal <dialog>: focus moves into it and stays there, Escape or "Keep" cancels,
// and the action is named on its button. Nothing is sent until the person confirms.
import { createEffect, type JSX, Show } from "solid-js";

export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  confirmLabel: string;
  cancelLabel?: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
  children?: JSX.Element;
}) {
  let dialog: HTMLDialogElement | undefined;
  let cancel: HTMLButtonElement | undefined;
  createEffect(() => {
    if (!dialog) return;
    if (props.open && !dialog.open) {
      if (typeof dialog.showModal === "function") dialog.showModal();
      else dialog.setAttribute("open", "");
      // The safe choice has the focus: Enter does not close anything by accident.
      cancel?.focus();
    } else if (!props.open && dialog.open) {
      if (typeof dialog.close === "function") dialog.close();
      else dialog.removeAttribute("open");
    }
  });
  return (
    <dialog
      ref={dialog}
      class="confirm"
      aria-labelledby="confirm-title"
      onCancel={(e) => {
        e.preventDefault();
        if (!props.busy) props.onCancel();
      }}
    >
      <Show when={props.open}>
        <h2 id="confirm-title">{props.title}</h2>
        {props.children}
        <div class="form-actions">
          <button type="button" class="secondary" ref={cancel} onClick={() => props.onCancel()} disabled={props.busy}>
            {props.cancelLabel ?? "Cancel"}
          </button>
          <button
            type="button"
            class="danger"
            onClick={() => props.onConfirm()}
            disabled={props.busy}
            aria-busy={props.busy}
          >
            {props.busy ? "…" : props.confirmLabel}
          </button>
        </div>
      </Show>
    </dialog>
  );
}
