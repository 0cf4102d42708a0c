// A form's per-field messages, one way everywhere: an input says `aria-invalid` when its field has
// a message, and names the message element (`err-<field>`) with `aria-describedby`, so a screen
// reader reads the message with the field.
import { type JSX, Show } from "solid-js";

export function fieldMessages(errors: () => Record<string, string | undefined>) {
  return {
    /** The input's `aria-invalid`: "true" while its field has a message. */
    invalid: (field: string): "true" | undefined => (errors()[field] ? "true" : undefined),
    /** The message of `field`, when it has one. */
    FieldError: (p: { field: string }): JSX.Element => (
      <Show when={errors()[p.field]}>
        <span class="field-error" id={`err-${p.field}`}>
          {errors()[p.field]}
        </span>
      </Show>
    ),
  };
}
