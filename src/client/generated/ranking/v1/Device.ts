// Original file: proto/ranking/v1/ranking.proto

export const Device = {
  DEVICE_UNSPECIFIED: 'DEVICE_UNSPECIFIED',
  DEVICE_MOBILE: 'DEVICE_MOBILE',
  DEVICE_DESKTOP: 'DEVICE_DESKTOP',
  DEVICE_APP: 'DEVICE_APP',
} as const;

export type Device =
  | 'DEVICE_UNSPECIFIED'
  | 0
  | 'DEVICE_MOBILE'
  | 1
  | 'DEVICE_DESKTOP'
  | 2
  | 'DEVICE_APP'
  | 3

export type Device__Output = typeof Device[keyof typeof Device]
