// ✓ and ✗ drawn as vectors: Noto Sans has no glyph for U+2713/U+2717, and a missing glyph prints nothing.
import { Circle, Path, Svg } from '@react-pdf/renderer';

interface IconProps {
  size?: number;
  color: string;
}

export function CheckIcon({ size = 10, color }: IconProps) {
  return (
    <Svg width={size} height={size} viewBox="0 0 20 20">
      <Circle cx={10} cy={10} r={10} fill={color} />
      <Path d="M5.5 10.5 L8.6 13.5 L14.5 6.8" stroke="#FFFFFF" strokeWidth={2.4} strokeLinecap="round" strokeLinejoin="round" fill="none" />
    </Svg>
  );
}

export function CrossIcon({ size = 10, color }: IconProps) {
  return (
    <Svg width={size} height={size} viewBox="0 0 20 20">
      <Circle cx={10} cy={10} r={10} fill={color} />
      <Path d="M6.6 6.6 L13.4 13.4 M13.4 6.6 L6.6 13.4" stroke="#FFFFFF" strokeWidth={2.4} strokeLinecap="round" fill="none" />
    </Svg>
  );
}
