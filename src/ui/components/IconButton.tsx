import type { ReactNode } from 'react';
import { Button, OverlayArrow, Tooltip, TooltipTrigger } from 'react-aria-components';

/**
 * A button that shows only an icon: its name (with its object, "Remove positive prompt 2")
 * is the accessible name and, on hover or keyboard focus, a tooltip (React Aria: shown on
 * focus too, Escape hides it, tied to the button by aria-describedby).
 */
export function IconButton({
  label,
  children,
  onPress,
  isDisabled,
}: {
  label: string;
  children: ReactNode;
  onPress: () => void;
  isDisabled?: boolean;
}) {
  return (
    <TooltipTrigger delay={400} closeDelay={100}>
      <Button aria-label={label} className="react-aria-Button icon-only" onPress={onPress} isDisabled={isDisabled}>
        {children}
      </Button>
      <Tooltip className="tooltip" offset={6}>
        <OverlayArrow className="tooltip-arrow">
          <svg width={8} height={8} viewBox="0 0 8 8" aria-hidden="true">
            <path d="M0 0 L4 4 L8 0" />
          </svg>
        </OverlayArrow>
        {label}
      </Tooltip>
    </TooltipTrigger>
  );
}
