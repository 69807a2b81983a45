//! WebDriver client: placeholder replaced below.
