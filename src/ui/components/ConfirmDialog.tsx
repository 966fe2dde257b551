import type { ReactNode } from 'react';
import { Button, Dialog, DialogTrigger, Heading, Modal, ModalOverlay } from 'react-aria-components';

/**
 * A button that asks before it acts: an alert dialog (React Aria: focus moves into it and is
 * trapped there, Escape or "Cancel" closes it and focus returns to the button) whose confirm
 * button repeats the action with its object ("Delete My MoE"). Replaces `window.confirm`,
 * which blocks the page, cannot be styled or themed, and shows the origin instead of the object.
 */
export function ConfirmButton({
  label,
  children,
  title,
  body,
  confirm,
  onConfirm,
  testId,
}: {
  /** The trigger's accessible name, with its object ("Delete My MoE"). */
  label: string;
  /** What the trigger shows (icon and short word). */
  children: ReactNode;
  title: string;
  body: ReactNode;
  /** The confirm button's words, with the object ("Delete My MoE"). */
  confirm: string;
  onConfirm: () => void;
  testId?: string;
}) {
  return (
    <DialogTrigger>
      <Button aria-label={label} className="react-aria-Button danger">
        {children}
      </Button>
      <ModalOverlay isDismissable className="modal-overlay">
        <Modal className="modal">
          <Dialog role="alertdialog" className="dialog" data-testid={testId}>
            {({ close }) => (
              <>
                <Heading slot="title" className="dialog-title">
                  {title}
                </Heading>
                <div className="dialog-body">{body}</div>
                <div className="row dialog-actions">
                  <Button className="react-aria-Button secondary" onPress={close} autoFocus>
                    Cancel
                  </Button>
                  <Button
                    className="react-aria-Button danger"
                    onPress={() => {
                      close();
                      onConfirm();
                    }}
                  >
                    {confirm}
                  </Button>
                </div>
              </>
            )}
          </Dialog>
        </Modal>
      </ModalOverlay>
    </DialogTrigger>
  );
}
