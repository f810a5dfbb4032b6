import type { TemperatureScale } from './bus.js';

/** Convert a Celsius reading to the request's scale (owfs's Temperature()). */
export function fromCelsius(celsius: number, scale: TemperatureScale): number {
  switch (scale) {
    case 'C':
      return celsius;
    case 'F':
      return celsius * 1.8 + 32;
    case 'K':
      return celsius + 273.15;
    case 'R':
      return celsius * 1.8 + 491.67;
  }
}

/** Convert a written temperature in the request's scale back to Celsius (owfs's fromTemperature()). */
export function toCelsius(value: number, scale: TemperatureScale): number {
  switch (scale) {
    case 'C':
      return value;
    case 'F':
      return (value - 32) / 1.8;
    case 'K':
      return value - 273.15;
    case 'R':
      return (value - 491.67) / 1.8;
  }
}
